"""Who a request comes from, and the throttles every interface uses.

`client_ip(request)`: the connecting address, or — behind TRUSTED_PROXY_COUNT reverse proxies —
the address the outermost trusted proxy saw, counted from the right of X-Forwarded-For. A client
can prepend anything to that header, so its leftmost entries are never trusted (daphne runs
without --proxy-headers, which would take the leftmost). DRF's NUM_PROXIES and allauth's
ALLAUTH_TRUSTED_PROXY_COUNT are set from the same number, so every limiter agrees.

`RateThrottle`: DRF's SimpleRateThrottle keyed by `client_ip` (or the user). Counters live in the
cache, which fails open when Redis is unreachable (digitalme/cache.py: a log line and
`dm_cache_failures_total`), so an outage lets requests through instead of 500s on log-in. Plain
Django views (the admin log-in, /health/ready/) use the same classes through `throttle_response`.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.http import HttpRequest, JsonResponse
from rest_framework.throttling import SimpleRateThrottle

from digitalme.errors import error_body


def client_ip(request: Any) -> str:
    remote = request.META.get("REMOTE_ADDR", "") or ""
    proxies = settings.TRUSTED_PROXY_COUNT
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    if proxies <= 0 or not forwarded:
        return remote
    hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
    if not hops:
        return remote
    return hops[-min(proxies, len(hops))]


class RateThrottle(SimpleRateThrottle):
    """Per client IP unless a subclass keys otherwise."""

    scope: str

    def get_ident(self, request: Any) -> str:
        return client_ip(request)

    def get_cache_key(self, request: Any, view: Any) -> str | None:
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


class UserRateThrottle(RateThrottle):
    """Per signed-in user (per IP for anonymous requests)."""

    def get_cache_key(self, request: Any, view: Any) -> str | None:
        user = getattr(request, "user", None)
        ident = f"user-{user.pk}" if user is not None and user.is_authenticated else self.get_ident(request)
        return self.cache_format % {"scope": self.scope, "ident": ident}


class AdminLoginThrottle(RateThrottle):
    scope = "admin_login"


class HealthReadyThrottle(RateThrottle):
    """Public probes per client IP; the host's own probes and scrapers (loopback) are not limited."""

    scope = "health_ready"

    def allow_request(self, request: Any, view: Any) -> bool:
        try:
            if ipaddress.ip_address(client_ip(request)).is_loopback:
                return True
        except ValueError:
            pass
        return super().allow_request(request, view)


def throttle_response(request: HttpRequest, throttles: list[type[RateThrottle]]) -> JsonResponse | None:
    """For plain Django views: a 429 in the API's error shape when a throttle refuses, else None."""
    for throttle_class in throttles:
        throttle = throttle_class()
        if not throttle.allow_request(request, None):  # type: ignore[arg-type]  # plain Django views too
            wait = throttle.wait() or 1
            response = JsonResponse(
                error_body(f"Too many requests; try again in {int(wait) + 1} seconds.", "throttled"), status=429
            )
            response["Retry-After"] = str(int(wait) + 1)
            return response
    return None


def throttled_on_post(view: Callable, throttles: list[type[RateThrottle]]) -> Callable:
    """Wrap a sync Django view: its POSTs (attempts, e.g. admin log-in) pass the throttles first."""

    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
        if request.method == "POST":
            refused = throttle_response(request, throttles)
            if refused is not None:
                return refused
        return view(request, *args, **kwargs)

    return wrapped
