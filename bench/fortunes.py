"""The pages floor: a TechEmpower-style "fortunes" page (one query, one template) as a
bench-only Django project, served by the same gunicorn sync workers and the same PostgreSQL
database as Bunnybook's pages. Run as `gunicorn bench.fortunes:application`; the table
`bench_fortune` is created and filled by bench_pages.py.
"""

import os
from pathlib import Path

import dj_database_url
import django
from django.conf import settings
from django.db import connection
from django.shortcuts import render
from django.urls import path

if not settings.configured:
    settings.configure(
        DEBUG=False,
        SECRET_KEY="bench-fortunes",  # noqa: S106 - a throwaway bench app
        ALLOWED_HOSTS=["*"],
        ROOT_URLCONF=__name__,
        DATABASES={
            "default": dj_database_url.parse(
                os.environ["DATABASE_URL"], conn_max_age=600, conn_health_checks=True
            )
        },
        INSTALLED_APPS=[],
        MIDDLEWARE=[],
        TEMPLATES=[
            {
                "BACKEND": "django.template.backends.django.DjangoTemplates",
                "DIRS": [Path(__file__).resolve().parent / "templates"],
            }
        ],
    )
    django.setup()


def fortunes(request):
    with connection.cursor() as cursor:
        cursor.execute("SELECT id, message FROM bench_fortune")
        rows = cursor.fetchall()
    rows.append((0, "Additional fortune added at request time."))
    rows.sort(key=lambda row: row[1])
    return render(request, "fortunes.html", {"fortunes": rows})


urlpatterns = [path("fortunes/", fortunes)]

from django.core.wsgi import get_wsgi_application  # noqa: E402 - after settings.configure

application = get_wsgi_application()
