"""Notices by email: outbid, won, closing soon on a watched lot, and lot withdrawn, sent from the stored notices.

Every personal notice is stored (auctions/models.py Notice, `mail_state` pending) in the transaction that causes it;
this pass, in its own thread of the closing worker (never on the bid path, never inside a bid's transaction), takes
the pending ones, SKIP LOCKED so several workers share them, and for each user, lot and kind sends one mail at most
every NOTICE_MAIL_QUIET_SECONDS, telling the newest notice (three outbids in a row: one mail, the latest price).
A send that fails is logged and the notices stay pending, tried again after NOTICE_MAIL_RETRY_SECONDS: a crash
between a send and its commit sends that mail twice, never none.
"""

from __future__ import annotations

import asyncio
import smtplib
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from urllib.parse import urlsplit

import structlog
from channels.db import database_sync_to_async
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core import mail
from django.db import DatabaseError, close_old_connections, connection, transaction
from django.db.models import Q
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from accounts import notice_mail_prefs
from auctions.models import Lot, Notice, Watch
from auctions.money import format_money

log = structlog.get_logger(__name__)

# A notice's `type` → the kind of mail (accounts/notice_mail_prefs.py KINDS). Other notices are never mailed.
# A live lot's `win_withdrawn` is mailed as its `won` was: whoever heard they won hears it no longer stands.
KIND_OF_TYPE = {
    "outbid": "outbid",
    "won": "won",
    "win_withdrawn": "won",
    "lot_closing_soon": "closing_soon",
    "cancelled": "withdrawn",
}
WHY = {
    "outbid": "you bid on this lot",
    "won": "you bid on this lot",
    "closing_soon": "this lot is on your watchlist",
    "withdrawn": "you bid on, watch or sell this lot",
}


@dataclass
class _Group:
    """The pending notices of one user, lot and kind: one mail tells the newest."""

    user_id: int
    lot_id: int
    kind: str
    rows: list[Notice] = field(default_factory=list)

    @property
    def newest(self) -> Notice:
        return self.rows[-1]


def mail_pass(*, now: datetime | None = None) -> int:
    """Send what is due; return how many mails went out. Safe in several processes at once."""
    now = now or timezone.now()
    due = Q(mail_after__isnull=True) | Q(mail_after__lte=now)
    pending = Notice.objects.filter(mail_state=Notice.Mail.PENDING)
    with transaction.atomic():
        users = set(pending.filter(due).order_by("id").values_list("user_id", flat=True)[: settings.NOTICE_MAIL_BATCH])
        if not users:
            return 0
        # Every pending notice of those users, waiting ones too, so a group is decided whole.
        rows = list(pending.select_for_update(skip_locked=True).filter(user_id__in=users).order_by("id"))
        groups, others = _grouped(rows)
        _finish(others, Notice.Mail.SKIPPED, now)
        return _decide_and_send([group for group in groups if _is_due(group, now)], now)


def _grouped(rows: list[Notice]) -> tuple[list[_Group], list[Notice]]:
    groups: dict[tuple[int, int, str], _Group] = {}
    others = []
    for row in rows:
        kind = KIND_OF_TYPE.get(row.payload.get("type"))
        lot_id = row.payload.get("lot")
        if kind is None or not isinstance(lot_id, int):
            others.append(row)
            continue
        groups.setdefault((row.user_id, lot_id, kind), _Group(row.user_id, lot_id, kind)).rows.append(row)
    return list(groups.values()), others


def _is_due(group: _Group, now: datetime) -> bool:
    return any(row.mail_after is None or row.mail_after <= now for row in group.rows)


def _decide_and_send(groups: list[_Group], now: datetime) -> int:
    user_ids = {group.user_id for group in groups}
    lot_ids = {group.lot_id for group in groups}
    users = get_user_model().objects.select_related("profile").in_bulk(user_ids)
    lots = Lot.objects.in_bulk(lot_ids)
    watching = set(Watch.objects.filter(user_id__in=user_ids, lot_id__in=lot_ids).values_list("user_id", "lot_id"))
    last_sent = _last_sent(user_ids, now)
    quiet = timedelta(seconds=settings.NOTICE_MAIL_QUIET_SECONDS)
    to_send = []
    for group in groups:
        user, lot = users.get(group.user_id), lots.get(group.lot_id)
        if not _wanted(group, user, lot, watching, now):
            _finish(group.rows, Notice.Mail.SKIPPED, now)
            continue
        sent_at = last_sent.get((group.user_id, group.lot_id, group.newest.payload["type"]))
        if sent_at is not None and now < sent_at + quiet:
            _wait(group.rows, until=sent_at + quiet)  # told together once the quiet period is over
            continue
        to_send.append((group, _message(group, user)))
    return _send(to_send, now)


def _wanted(group: _Group, user, lot: Lot | None, watching: set[tuple[int, int]], now: datetime) -> bool:
    """Whether the newest notice is worth a mail now: the user takes this kind by mail and has an address, and the
    notice is still true (an outbid bidder who leads again, or a lot that has ended, makes an outbid or a closing
    soon old news)."""
    if user is None or lot is None or not user.email or not notice_mail_prefs.wants(user.profile, group.kind):
        return False
    if group.kind == "outbid":
        return lot.high_bidder_id != user.pk and not lot.is_over_at(now)
    if group.kind == "closing_soon":
        return (user.pk, lot.pk) in watching and not lot.is_over_at(now)
    return True


def _last_sent(user_ids: set[int], now: datetime) -> dict[tuple[int, int, str], datetime]:
    """When each (user, lot, notice type) last had a mail, within the quiet period."""
    since = now - timedelta(seconds=settings.NOTICE_MAIL_QUIET_SECONDS)
    sent = Notice.objects.filter(user_id__in=user_ids, mail_state=Notice.Mail.SENT, mailed_at__gt=since)
    last: dict[tuple[int, int, str], datetime] = {}
    for user_id, lot_id, kind, mailed_at in sent.values_list("user_id", "payload__lot", "payload__type", "mailed_at"):
        key = (user_id, lot_id, kind)
        last[key] = max(mailed_at, last.get(key, mailed_at))
    return last


def _send(to_send: list[tuple[_Group, mail.EmailMessage]], now: datetime) -> int:
    """Send over one connection. A refused recipient skips that mail; any other failure (the server is away or
    silent) stops the pass and leaves every unsent group pending for NOTICE_MAIL_RETRY_SECONDS."""
    if not to_send:
        return 0
    retry_at = now + timedelta(seconds=settings.NOTICE_MAIL_RETRY_SECONDS)
    retry = retry_at.isoformat(timespec="seconds")
    sent = 0
    server = mail.get_connection(fail_silently=False)
    try:
        server.open()
        for index, (group, message) in enumerate(to_send):
            try:
                server.send_messages([message])
            except smtplib.SMTPRecipientsRefused as exc:
                log.warning("notice_mail_refused", user_id=group.user_id, kind=group.kind, error=repr(exc))
                _finish(group.rows, Notice.Mail.SKIPPED, now)
                continue
            except Exception as exc:
                log.warning(
                    "notice_mail_failed", user_id=group.user_id, kind=group.kind, error=repr(exc), retry_at=retry
                )
                for waiting, _ in to_send[index:]:
                    _wait(waiting.rows, until=retry_at)
                return sent
            _finish(group.rows[:-1], Notice.Mail.MERGED, now)
            _finish([group.newest], Notice.Mail.SENT, now)
            sent += 1
    except Exception as exc:  # could not even connect
        log.warning("notice_mail_failed", mails=len(to_send), error=repr(exc), retry_at=retry)
        for group, _ in to_send[sent:]:
            _wait(group.rows, until=retry_at)
    finally:
        try:
            server.close()
        except Exception:  # a connection that broke mid-pass: nothing left to close
            pass
    if sent:
        log.info("notice_mail_sent", mails=sent)
    return sent


def _finish(rows: list[Notice], state: str, now: datetime) -> None:
    if rows:
        Notice.objects.filter(pk__in=[row.pk for row in rows]).update(mail_state=state, mailed_at=now)


def _wait(rows: list[Notice], *, until: datetime) -> None:
    Notice.objects.filter(pk__in=[row.pk for row in rows]).update(mail_after=until)


# --- the mail ------------------------------------------------------------------------------------------------------
def _message(group: _Group, user) -> mail.EmailMessage:
    payload = group.newest.payload
    title = " ".join(str(payload.get("title") or f"Lot {group.lot_id}").split())  # never a line break in a header
    subject, sentence = _wording(group.kind, payload, title, count=len(group.rows))
    unsubscribe_url = absolute_url(
        reverse("accounts:unsubscribe", args=[notice_mail_prefs.unsubscribe_token(user.pk, group.kind)])
    )
    body = render_to_string(
        "auctions/notice_mail.txt",
        {
            "username": user.get_username(),
            "sentence": sentence,
            "lot_url": absolute_url(reverse("auctions:lot_detail", args=[group.lot_id])),
            "why": WHY[group.kind],
            "unsubscribe_url": unsubscribe_url,
            "settings_url": absolute_url(reverse("accounts:notice_mail")),
        },
    )
    return mail.EmailMessage(
        subject=subject,
        body=body,
        to=[user.email],
        headers={"List-Unsubscribe": f"<{unsubscribe_url}>", "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"},
    )


def _wording(kind: str, payload: dict, title: str, *, count: int) -> tuple[str, str]:
    """(subject, the sentence in the mail) for the newest notice of a group of `count`."""
    if kind == "outbid":
        times = f" ({count} times since our last mail)" if count > 1 else ""
        return (
            f"Outbid on “{title}”: now {format_money(payload.get('amount'))}",
            f"You were outbid on “{title}”{times}. The high bid is now {format_money(payload.get('amount'))};"
            f" the next bid is at least {format_money(payload.get('min_next_bid'))}.",
        )
    if kind == "won" and payload.get("type") == "win_withdrawn":
        reason = " ".join(str(payload.get("reason") or "").split())
        return (
            f"“{title}” was reopened: your win no longer stands",
            f"“{title}” was reopened after the hammer"
            + (f" ({reason})" if reason else "")
            + ", so your win no longer stands. Bidding on it continues in the sale.",
        )
    if kind == "won":
        return (
            f"You won “{title}”",
            f"You won “{title}” for {format_money(payload.get('amount'))}.",
        )
    if kind == "closing_soon":
        high = payload.get("high_bid")
        where = f"the high bid is {format_money(high)}" if high else "there are no bids yet"
        return (
            f"“{title}” ends in a minute",
            f"“{title}”, on your watchlist, ends in about a minute: {where}; the next bid is at least"
            f" {format_money(payload.get('min_next_bid'))}.",
        )
    reason = " ".join(str(payload.get("reason") or "").split())
    return (
        f"“{title}” was withdrawn",
        f"“{title}” was withdrawn" + (f": {reason}" if reason else "") + ". Nobody wins it and no bid on it stands.",
    )


def site_url() -> str:
    """The site's public address, no trailing slash: SITE_URL, else the first CSRF_TRUSTED_ORIGINS entry, else the
    first named host of ALLOWED_HOSTS (https when production's HTTPS is on)."""
    if settings.SITE_URL:
        return settings.SITE_URL.rstrip("/")
    for origin in settings.CSRF_TRUSTED_ORIGINS:
        parts = urlsplit(origin)
        if parts.scheme and parts.netloc and "*" not in parts.netloc:
            return f"{parts.scheme}://{parts.netloc}"
    host = next((h for h in settings.ALLOWED_HOSTS if h and "*" not in h and not h.startswith(".")), "localhost")
    return f"{'https' if getattr(settings, 'HTTPS', False) else 'http'}://{host}"


def absolute_url(path: str) -> str:
    return site_url() + path


# --- the loop ------------------------------------------------------------------------------------------------------
def mail_pass_in_loop() -> None:
    """One pass of a long-running loop: a database blip or a broken pass is logged, never the end of the loop; the
    connection is replaced as the closing pass does (bidding/closing.py)."""
    close_old_connections()
    try:
        mail_pass()
    except DatabaseError:
        log.exception("notice_mail_pass_failed")
        connection.close()
    except Exception:
        log.exception("notice_mail_pass_failed")


def run_forever() -> None:
    """The closing worker's mail thread (manage.py close_lots)."""
    while True:
        mail_pass_in_loop()
        time.sleep(settings.NOTICE_MAIL_INTERVAL_SECONDS)


async def mail_loop() -> None:
    """Single-process mode: the web process's closing loop runs this beside it; each pass in a worker thread."""
    run_pass = database_sync_to_async(mail_pass_in_loop, thread_sensitive=False)
    while True:
        await run_pass()
        await asyncio.sleep(settings.NOTICE_MAIL_INTERVAL_SECONDS)
