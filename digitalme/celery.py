"""The Celery app: settings come from Django's (CELERY_ prefix), tasks from every app."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "digitalme.settings")
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

app = Celery("digitalme")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@app.task(name="digitalme.ping")
def ping(marker_path: str = "") -> str:
    """Round-trip check for the broker: writes a marker file when a path is given."""
    if marker_path:
        with open(marker_path, "w") as marker:
            marker.write("pong")
    return "pong"
