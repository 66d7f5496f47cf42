"""allauth adapters: web sign-ups go through the same rules as API sign-ups."""

import logging
import smtplib

from allauth.account.adapter import DefaultAccountAdapter
from allauth.account.models import EmailAddress
from allauth.socialaccount.adapter import DefaultSocialAccountAdapter
from allauth.socialaccount.models import SocialApp
from django.http import Http404

from accounts.services import user_tokens_revoke

logger = logging.getLogger(__name__)


class AccountAdapter(DefaultAccountAdapter):
    def save_user(self, request, user, form, commit=True):
        user = super().save_user(request, user, form, commit=False)
        user.email = user.email.lower()
        if commit:
            user.save()
        return user

    def send_mail(self, template_prefix, email, context):
        """A mail server that is down must not turn a sign-up or a reset request into a 500.

        The account is created regardless; the failure is logged (without the message body,
        which may hold a reset link) so operators see that EMAIL_* needs fixing.
        """
        try:
            super().send_mail(template_prefix, email, context)
        except (smtplib.SMTPException, OSError) as exc:
            logger.error(
                "sending account email failed",
                extra={"template": template_prefix, "error": type(exc).__name__},
            )

    def set_password(self, user, password):
        """Every allauth password path (change, set, reset from the mailed link) ends here: the
        account's refresh tokens and open sockets end with the old password."""
        super().set_password(user, password)
        user_tokens_revoke(user=user, reason="password_changed")


class SocialAccountAdapter(DefaultSocialAccountAdapter):
    def get_app(self, request, provider, client_id=None):
        """A provider without client id/secret on this server: its log-in URLs are a 404, not a 500."""
        try:
            return super().get_app(request, provider, client_id=client_id)
        except SocialApp.DoesNotExist as exc:
            raise Http404(f"Signing in with {provider} is not configured on this server.") from exc

    def authenticate_by_email(self, sociallogin):
        """A social login reaches an existing account by email only when the account's own copy
        of that address is verified. Otherwise anyone could register the address first (the API
        and the sign-up form do not verify it) and wait for its owner's "Sign in with Google" to
        land in the squatted account (pre-account-takeover); the owner is sent to sign-up instead,
        which says the address is taken."""
        match = super().authenticate_by_email(sociallogin)
        if match is None:
            return None
        user, email = match
        if EmailAddress.objects.filter(user=user, email__iexact=email, verified=True).exists():
            return match
        logger.warning(
            "social sign-in not connected to an account with an unverified email",
            extra={"user_id": user.pk, "provider": sociallogin.account.provider},
        )
        return None
