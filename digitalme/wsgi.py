"""WSGI entry point (management and plain-HTTP hosting; production serves ASGI via daphne)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "digitalme.settings")
application = get_wsgi_application()
