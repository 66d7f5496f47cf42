"""allauth adapters: web sign-ups go through the same rules as API sign-ups."""

import logging
import smtplib

from allauth.account.adapter import DefaultAccountAdapter
from allauth.socialaccount.adapter import DefaultSocialAccountAdapter

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


class SocialAccountAdapter(DefaultSocialAccountAdapter):
    pass
