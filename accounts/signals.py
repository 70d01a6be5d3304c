from __future__ import annotations

import structlog
from axes.signals import user_locked_out
from django.conf import settings
from django.contrib.auth.signals import user_login_failed
from django.db.models.signals import post_save
from django.dispatch import receiver

from accounts.models import Profile
from accounts.throttle import client_address

log = structlog.get_logger(__name__)


@receiver(post_save, sender=settings.AUTH_USER_MODEL)
def create_profile(sender, instance, created: bool, **kwargs) -> None:
    # Every user has a profile, so permission checks never meet a missing row.
    if created:
        Profile.objects.get_or_create(user=instance)


@receiver(user_login_failed)
def log_login_failure(sender, credentials, request=None, **kwargs) -> None:
    # One JSON line per failure, with the address and never what was typed (a password pasted as a username).
    log.warning("login_failed", address=client_address(request) if request is not None else None)


@receiver(user_locked_out)
def log_lockout(sender, request, username, ip_address, **kwargs) -> None:
    log.warning("login_locked_out", address=ip_address)
