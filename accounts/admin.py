from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.contrib.auth.forms import AdminPasswordChangeForm

from accounts.models import User
from accounts.services import user_tokens_revoke


class UserPasswordChangeForm(AdminPasswordChangeForm):
    """A staff member resetting a password ends the account's refresh tokens and sockets too."""

    def save(self, commit=True):
        user = super().save(commit=commit)
        if commit:
            user_tokens_revoke(user=user, reason="password_changed")
        return user


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    change_password_form = UserPasswordChangeForm
    ordering = ["-date_joined"]
    list_display = ["email", "display_name", "language", "is_staff", "is_active", "date_joined", "last_login"]
    list_filter = ["is_staff", "is_superuser", "is_active", "language", "date_joined"]
    search_fields = ["email", "display_name"]
    readonly_fields = ["date_joined", "last_login"]
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        ("Profile", {"fields": ("display_name", "language", "timezone")}),
        ("Permissions", {"fields": ("is_active", "is_staff", "is_superuser", "groups", "user_permissions")}),
        ("Dates", {"fields": ("date_joined", "last_login")}),
    )
    add_fieldsets = ((None, {"classes": ("wide",), "fields": ("email", "password1", "password2")}),)

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        if change and "is_active" in form.changed_data and not obj.is_active:
            # Deactivated: the tokens end for good (reactivating does not revive them).
            user_tokens_revoke(user=obj, reason="deactivated")
