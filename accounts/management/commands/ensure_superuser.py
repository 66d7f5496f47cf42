"""Make sure an admin exists: from DJANGO_SUPERUSER_EMAIL/_PASSWORD, else ask (never a fixed password)."""

import os
import sys

from django.core.management import BaseCommand, call_command

from accounts.models import User


class Command(BaseCommand):
    help = "Create the first superuser from the environment, or interactively; skip if one exists."

    def handle(self, *args, **options):
        email = os.environ.get("DJANGO_SUPERUSER_EMAIL", "").strip().lower()
        password = os.environ.get("DJANGO_SUPERUSER_PASSWORD", "")
        if email and password:
            if User.objects.filter(email__iexact=email).exists():
                self.stdout.write(f"Log in as {email} (the superuser from DJANGO_SUPERUSER_EMAIL).")
                return
            User.objects.create_superuser(email=email, password=password)
            self.stdout.write(self.style.SUCCESS(f"Created superuser {email}. Log in at /accounts/login/."))
            return
        existing = User.objects.filter(is_superuser=True).order_by("id").first()
        if existing:
            self.stdout.write(f"Log in at /accounts/login/ as {existing.email}, or sign up at /accounts/signup/.")
            return
        if sys.stdin.isatty():
            self.stdout.write(
                "No admin yet. Create one now (or press Ctrl-C and set DJANGO_SUPERUSER_EMAIL/_PASSWORD)."
            )
            call_command("createsuperuser")
        else:
            self.stdout.write(
                "No admin yet: set DJANGO_SUPERUSER_EMAIL and DJANGO_SUPERUSER_PASSWORD and run `make run` again, "
                "or run `make superuser`. Anyone can sign up at /accounts/signup/."
            )
