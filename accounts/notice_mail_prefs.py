"""Which notices a user wants by email, and the signed unsubscribe token each mail carries.

The token names a user and one kind of mail, signed with SECRET_KEY (django.core.signing): whoever holds the mail
may turn that kind off without logging in, and nothing else. It never expires: an old mail's link still works.
"""

from __future__ import annotations

from django.core import signing

# Kind of mail → the Profile field that turns it on.
KINDS = {
    "outbid": "email_outbid",
    "won": "email_won",
    "closing_soon": "email_closing_soon",
    "withdrawn": "email_withdrawn",
}
ALL = "all"
_SALT = "gavel.notice-mail.unsubscribe"


def wants(profile, kind: str) -> bool:
    return bool(getattr(profile, KINDS[kind]))


def unsubscribe_token(user_id: int, kind: str) -> str:
    return signing.dumps({"u": user_id, "k": kind}, salt=_SALT, compress=True)


def read_unsubscribe_token(token: str) -> tuple[int, str] | None:
    """(user id, kind) from a token, or None when it was not signed here or names no kind."""
    try:
        data = signing.loads(token, salt=_SALT)
    except signing.BadSignature:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("u"), int) or data.get("k") not in KINDS:
        return None
    return data["u"], data["k"]


def unsubscribe(profile, kind: str) -> None:
    """Turn off one kind of mail, or every kind (ALL)."""
    fields = list(KINDS.values()) if kind == ALL else [KINDS[kind]]
    for field in fields:
        setattr(profile, field, False)
    profile.save(update_fields=fields)
