"""The session engine (SESSION_ENGINE = "accounts.sessions"): Django's database sessions,
each row stamped with its bunny's id, so ending all of a bunny's sessions is one DELETE.

The id is written on every save, including the saves after `cycle_key()` (log-in, password
change), so the index never misses a session the way a log-in signal would.
"""

from django.contrib.auth import SESSION_KEY
from django.contrib.sessions.backends.db import SessionStore as DBStore


class SessionStore(DBStore):
    @classmethod
    def get_model_class(cls):
        from accounts.models import BunnySession  # the engine loads before the app registry

        return BunnySession

    def create_model_instance(self, data):
        session = super().create_model_instance(data)
        try:
            session.user_id = int(data.get(SESSION_KEY))
        except (TypeError, ValueError):
            session.user_id = None
        return session
