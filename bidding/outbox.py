"""The stored lot events are an outbox: every one is published at least once, whoever dies when.

An event is stored in the transaction that makes it and published after the commit (auctions/lot_events.py). A worker
that dies between the two would leave it unpublished, and watchers would hear of it only at the lot's next event,
or never if it was the last. So each successful publish is marked (`LotEvent.published_at`), and the relay,
run by the closing worker on each pass, republishes any event still unmarked after RELAY_AFTER_SECONDS, in
sequence order per lot. Several relays may run at once (SKIP LOCKED shares the rows); a republished event that
had in fact gone out is harmless: clients ignore a `seq` they already have.

Marks leave the bid path: they are queued and written by one background thread per process, one statement for
everything published in the last MARK_DELAY_SECONDS (never under the lot's lock, never a write per bid).
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import structlog
from django.db import close_old_connections, connection, transaction
from django.utils import timezone

from auctions import payloads
from auctions.models import LotEvent, Notice
from bidding import fanout

log = structlog.get_logger(__name__)

# An event unmarked this long after its commit is republished. Well above the usual commit-to-mark time
# (MARK_DELAY_SECONDS plus one statement), so a healthy worker's events are not sent twice.
RELAY_AFTER_SECONDS = 1.5
MARK_DELAY_SECONDS = 0.2
RELAY_BATCH = 500
# Personal notices are kept for replay this long (ws/me/ `sync`), then pruned by the relay.
NOTICE_RETENTION = timedelta(days=7)
PRUNE_EVERY_SECONDS = 60.0
PRUNE_BATCH = 1000

EVENT = LotEvent._meta.db_table


class _Marks:
    """Published (lot, first seq, last seq) ranges waiting to be marked, written in one statement."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pending: list[tuple[int, int, int]] = []
        self._scheduled = False
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="outbox-marks")

    def add(self, lot_id: int, first_seq: int, last_seq: int) -> None:
        with self._lock:
            self._pending.append((lot_id, first_seq, last_seq))
            if self._scheduled:
                return
            self._scheduled = True
        self._pool.submit(self._flush)

    def _flush(self) -> None:
        time.sleep(MARK_DELAY_SECONDS)  # let the commits of the next moments join this statement
        with self._lock:
            pending, self._pending, self._scheduled = self._pending, [], False
        close_old_connections()
        try:
            mark_published(pending)
        except Exception as exc:  # unmarked events are republished by the relay: a duplicate, never a loss
            log.warning("outbox_mark_failed", ranges=len(pending), error=repr(exc))
            connection.close()


marks = _Marks()


def mark_published(ranges: list[tuple[int, int, int]]) -> None:
    """Mark each (lot, first seq, last seq) range published, in one statement on PostgreSQL."""
    if not ranges:
        return
    now = timezone.now()
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {EVENT} e SET published_at = %s"
                " FROM unnest(%s::bigint[], %s::bigint[], %s::bigint[]) AS m(lot_id, lo, hi)"
                " WHERE e.lot_id = m.lot_id AND e.seq BETWEEN m.lo AND m.hi AND e.published_at IS NULL",
                [now, [r[0] for r in ranges], [r[1] for r in ranges], [r[2] for r in ranges]],
            )
        return
    for lot_id, first, last in ranges:  # the laptop default (SQLite): one process, few events
        LotEvent.objects.filter(lot_id=lot_id, seq__gte=first, seq__lte=last, published_at__isnull=True).update(
            published_at=now
        )


def relay_pass(*, older_than: float = RELAY_AFTER_SECONDS) -> int:
    """Republish every event committed more than `older_than` seconds ago and never marked published, in
    sequence order per lot; return how many. Safe in several processes at once: a lot's unpublished events are
    taken whole by one relay (a per-lot advisory lock), so two relays never interleave one lot's sequence."""
    cutoff = timezone.now() - timedelta(seconds=older_than)
    late = LotEvent.objects.filter(published_at__isnull=True, created_at__lte=cutoff)
    relayed = 0
    for lot_id in list(late.order_by().values_list("lot_id", flat=True).distinct()[:RELAY_BATCH]):
        with transaction.atomic():
            if not _claim(lot_id):
                continue  # another relay has this lot now
            rows = list(late.filter(lot_id=lot_id).order_by("seq").values_list("pk", "seq", "payload")[:RELAY_BATCH])
            published = []
            for pk, seq, payload in rows:
                try:
                    fanout.publish(lot_id, payloads.encode_stored(payload))
                except Exception as exc:  # Redis away: keep what went out, try the rest on the next pass
                    log.warning("outbox_relay_publish_failed", lot_id=lot_id, seq=seq, error=repr(exc))
                    break
                published.append(pk)
            if published:
                LotEvent.objects.filter(pk__in=published).update(published_at=timezone.now())
        relayed += len(published)
        if len(published) < len(rows):
            break  # Redis is away: the next pass tries again
    if relayed:
        log.warning("outbox_relayed", events=relayed)
    return relayed


# The first key of the relay's per-lot advisory locks (the second is the lot id).
_RELAY_LOCK_CLASS = 7_401


def _claim(lot_id: int) -> bool:
    """Take the lot's relay lock for this transaction, if no other relay holds it (PostgreSQL; SQLite serves one
    process)."""
    if connection.vendor != "postgresql":
        return True
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_xact_lock(%s, %s)", [_RELAY_LOCK_CLASS, lot_id])
        return cursor.fetchone()[0]


_last_prune = 0.0


def prune_notices(*, now=None, force: bool = False) -> int:
    """Delete personal notices older than NOTICE_RETENTION, oldest first, a bounded batch at a time (ids rise with
    time, so the primary key finds them without scanning); at most once a minute unless `force`."""
    global _last_prune
    if not force and time.monotonic() - _last_prune < PRUNE_EVERY_SECONDS:
        return 0
    _last_prune = time.monotonic()
    cutoff = (now or timezone.now()) - NOTICE_RETENTION
    oldest = Notice.objects.order_by("id").values_list("id", "created_at")[:PRUNE_BATCH]
    expired = [pk for pk, created in oldest if created < cutoff]
    if not expired:
        return 0
    deleted, _ = Notice.objects.filter(pk__in=expired).delete()
    return deleted


def outbox_pass() -> None:
    """The closing worker's share of the outbox: relay what was not published, prune old notices."""
    relay_pass()
    prune_notices()
