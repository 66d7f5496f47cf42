"""Throttles for credential endpoints and account export: per client IP, per email tried, per user."""

from __future__ import annotations

from digitalme.throttling import RateThrottle, UserRateThrottle


class LoginIpThrottle(RateThrottle):
    scope = "login_ip"


class LoginEmailThrottle(RateThrottle):
    scope = "login_email"

    def get_cache_key(self, request, view):
        data = request.data if isinstance(request.data, dict) else {}
        email = str(data.get("email", "")).strip().lower()
        if not email:
            return None
        return self.cache_format % {"scope": self.scope, "ident": email}


class RegisterIpThrottle(LoginIpThrottle):
    scope = "register_ip"


class ExportThrottle(UserRateThrottle):
    """Building the export reads every table of the user's: a handful an hour is plenty."""

    scope = "export"
