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

from collections.abc import Iterable
from importlib import import_module

from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY, get_user_model, load_backend
from django.contrib.auth.backends import ModelBackend
from django.contrib.sessions.backends.db import SessionStore as DatabaseStore
from django.utils import timezone
from django.utils.crypto import constant_time_compare


def session_signs_in(session_key: str, user_id: int) -> bool:
    """True while the session `session_key` still signs in the user `user_id` (call from sync code)."""
    data = import_module(settings.SESSION_ENGINE).SessionStore(session_key=session_key).load()  # {}: gone
    backend_path = data.get(BACKEND_SESSION_KEY)
    if not _names(data, user_id):
        return False
    return _still_signed_in(data, load_backend(backend_path).get_user(user_id))


def sessions_signing_in(pairs: Iterable[tuple[str, int]]) -> set[tuple[str, int]]:
    """The (session key, user id) pairs whose session still signs that user in: session_signs_in for every socket
    of a process at once. With the database session store and the model backend, two queries however many pairs
    (a worker with 2,000 sockets checked them one by one: 2,000 sessions and 2,000 users read per interval)."""
    pairs = set(pairs)
    store = import_module(settings.SESSION_ENGINE).SessionStore
    if not issubclass(store, DatabaseStore):
        return {pair for pair in pairs if session_signs_in(*pair)}
    # The rows load() would read (unexpired), decoded the way it decodes them.
    rows = store.get_model_class().objects.filter(
        session_key__in={key for key, _ in pairs}, expire_date__gt=timezone.now()
    )
    sessions = {row.session_key: store().decode(row.session_data) for row in rows}
    named = {(key, uid): sessions[key] for key, uid in pairs if key in sessions and _names(sessions[key], uid)}
    users = _users({(data[BACKEND_SESSION_KEY], uid) for (_, uid), data in named.items()})
    return {
        (key, uid)
        for (key, uid), data in named.items()
        if _still_signed_in(data, users.get((data[BACKEND_SESSION_KEY], uid)))
    }


def _names(data: dict, user_id: int) -> bool:
    """The session names this user, through a configured backend."""
    return (
        str(data.get(SESSION_KEY)) == str(user_id) and data.get(BACKEND_SESSION_KEY) in settings.AUTHENTICATION_BACKENDS
    )


def _still_signed_in(data: dict, user) -> bool:
    """The user the backend returned is active and the session's auth hash is theirs."""
    if user is None or not user.is_active:
        return False
    stored = data.get(HASH_SESSION_KEY)
    if not stored:
        return False
    return constant_time_compare(stored, user.get_session_auth_hash()) or any(
        constant_time_compare(stored, fallback) for fallback in user.get_session_auth_fallback_hash()
    )


def _users(wanted: set[tuple[str, int]]) -> dict[tuple[str, int], object]:
    """(backend path, user id): the user that backend's get_user returns (absent: none). The model backend's in one
    query; any other backend's one by one."""
    found: dict[tuple[str, int], object] = {}
    by_backend: dict[str, set[int]] = {}
    for path, uid in wanted:
        by_backend.setdefault(path, set()).add(uid)
    for path, ids in by_backend.items():
        backend = load_backend(path)
        if isinstance(backend, ModelBackend):
            users = get_user_model()._default_manager.filter(pk__in=ids)
            found.update({(path, user.pk): user for user in users if backend.user_can_authenticate(user)})
            continue
        for uid in ids:
            if (user := backend.get_user(uid)) is not None:
                found[(path, uid)] = user
    return found
