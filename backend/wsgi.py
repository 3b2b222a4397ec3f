"""The WSGI entry (``make serve``, gunicorn's ``backend.wsgi:application``)."""

import os

from django.core.wsgi import get_wsgi_application
from django.urls import get_resolver

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "backend.settings")
application = get_wsgi_application()
# The URLconf, and with it the schema, now rather than at the first request: under gunicorn's
# preload_app (backend.gunicorn_conf) once in the master, before the workers fork.
get_resolver().url_patterns  # noqa: B018
