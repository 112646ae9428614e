"""WSGI entry point, for serving pages from sync workers."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bunnybook.settings")
application = get_wsgi_application()
