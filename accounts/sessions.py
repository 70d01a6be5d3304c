"""Whether a stored session still signs its user in: the rule django.contrib.auth.get_user applies to every HTTP
request, for connections that outlive their request (sockets, bidding/socket_middleware.py).

A session signs its user in while it exists, names that user through a configured backend that still returns them
(ModelBackend returns no inactive user), the user is active, and its stored auth hash matches the user's
`get_session_auth_hash()` (or one made with a SECRET_KEY_FALLBACKS key). The hash is an HMAC of the password field,
so a password change, a reset, and "sign out everywhere" (accounts/views.py: the same password re-hashed with a
fresh salt) end every session that did not make the change. Read-only: unlike get_user it never flushes the
session; the next HTTP request does.
"""

from __future__ import annotations

from importlib import import_module

from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY, load_backend
from django.utils.crypto import constant_time_compare


def session_signs_in(session_key: str, user_id: int) -> bool:
    """True while the session `session_key` still signs in the user `user_id` (call from sync code)."""
    data = import_module(settings.SESSION_ENGINE).SessionStore(session_key=session_key).load()  # {}: gone
    backend_path = data.get(BACKEND_SESSION_KEY)
    if str(data.get(SESSION_KEY)) != str(user_id) or backend_path not in settings.AUTHENTICATION_BACKENDS:
        return False
    user = load_backend(backend_path).get_user(user_id)
    if user is None or not user.is_active:
        return False
    stored = data.get(HASH_SESSION_KEY)
    if not stored:
        return False
    return constant_time_compare(stored, user.get_session_auth_hash()) or any(
        constant_time_compare(stored, fallback) for fallback in user.get_session_auth_fallback_hash()
    )
