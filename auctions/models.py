"""The lot: what is sold, when, and its current state. Money is integer cents throughout."""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.db import models
from django.db.models import Q


def _default_soft_close_window() -> int:
    return settings.SOFT_CLOSE_WINDOW_SECONDS


def _default_soft_close_extension() -> int:
    return settings.SOFT_CLOSE_EXTENSION_SECONDS


class LotQuerySet(models.QuerySet):
    """The lot filters the catalogue, the bid path, the closing pass and the metrics share."""

    def active(self) -> LotQuerySet:
        """Scheduled or open: neither closed nor cancelled (its end may have passed, awaiting the closing pass)."""
        return self.filter(status__in=Lot.ACTIVE_STATUSES)

    def of_seller(self, seller_id: int) -> LotQuerySet:
        return self.filter(seller_id=seller_id)

    def watched_by(self, user_id: int) -> LotQuerySet:
        return self.filter(watches__user_id=user_id)

    def accepting_bids_at(self, now: datetime) -> LotQuerySet:
        """Active lots whose start has come and whose end has not: Lot.accepts_bids_at as a query."""
        return self.active().filter(starts_at__lte=now, ends_at__gt=now)

    def due_to_open(self, now: datetime) -> LotQuerySet:
        """Scheduled lots whose start has come and whose end has not."""
        return self.filter(status=Lot.Status.SCHEDULED, starts_at__lte=now, ends_at__gt=now)

    def ended_by(self, when: datetime) -> LotQuerySet:
        """Active lots whose end is at or before `when`: what the closing pass still has to close."""
        return self.active().filter(ends_at__lte=when)

    def active_or_ended_since(self, since: datetime) -> LotQuerySet:
        """Active lots, and those closed or cancelled at or after `since`."""
        return self.filter(Q(status__in=Lot.ACTIVE_STATUSES) | Q(closed_at__gte=since))


class Lot(models.Model):
    # The schema's own limits. A description is prose for the lot page, never sent over the lot socket; the limit
    # keeps one lot's page and its HTTP answers a reasonable size whatever a seller pastes.
    TITLE_MAX_CHARS = 200
    DESCRIPTION_MAX_CHARS = 5_000

    class Status(models.TextChoices):
        SCHEDULED = "scheduled"
        OPEN = "open"
        CLOSED = "closed"
        CANCELLED = "cancelled"

    # Active lots may still take bids (between start and end) and the closing pass still owes them an end; final
    # ones never change again.
    ACTIVE_STATUSES = (Status.SCHEDULED, Status.OPEN)
    FINAL_STATUSES = (Status.CLOSED, Status.CANCELLED)

    seller = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="lots")
    title = models.CharField(max_length=TITLE_MAX_CHARS)
    description = models.TextField(blank=True, max_length=DESCRIPTION_MAX_CHARS)
    starting_price = models.BigIntegerField(help_text="Cents. The first bid must be at least this.")
    reserve_price = models.BigIntegerField(null=True, blank=True, help_text="Cents. Hidden; no sale below it.")
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField(help_text="Moves later when a bid lands inside the soft-close window.")
    # The end as listed, before any soft-close extension: verify_lot replays extensions from it.
    original_ends_at = models.DateTimeField(null=True, blank=True, editable=False)
    soft_close_window = models.PositiveIntegerField(default=_default_soft_close_window, help_text="Seconds.")
    soft_close_extension = models.PositiveIntegerField(default=_default_soft_close_extension, help_text="Seconds.")
    hard_end_at = models.DateTimeField(null=True, blank=True, help_text="Optional: extensions never go past it.")
    buy_now_price = models.BigIntegerField(
        null=True, blank=True, help_text="Cents. Optional: anyone may end the lot at this price until the first bid."
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.SCHEDULED)

    # Current state, written only by bidding.services.place_bid and bidding.closing.close_lot under the row lock.
    high_bid_amount = models.BigIntegerField(null=True, blank=True)
    high_bidder = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    bid_count = models.PositiveIntegerField(default=0)
    bidder_count = models.PositiveIntegerField(default=0, help_text="Distinct bidders; numbers public aliases.")
    # The current leader's hidden maximum for automatic bidding (bidding/proxy.py). Secret: never serialized, never
    # logged, never broadcast; only its owner is told it, in their own replies and snapshot.
    leader_max_amount = models.BigIntegerField(null=True, blank=True)
    # Per-lot event sequence: every broadcast carries it; also the fencing token of the bid path.
    seq = models.PositiveBigIntegerField(default=0)
    winner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="lots_won"
    )
    closed_at = models.DateTimeField(null=True, blank=True)
    closing_soon_sent_at = models.DateTimeField(null=True, blank=True, help_text="When lot_closing_soon went out.")
    created_at = models.DateTimeField(auto_now_add=True)

    objects = LotQuerySet.as_manager()

    class Meta:
        indexes = [models.Index(fields=["status", "ends_at"])]
        constraints = [
            models.CheckConstraint(condition=Q(starting_price__gt=0), name="lot_starting_price_positive"),
            models.CheckConstraint(condition=Q(ends_at__gt=models.F("starts_at")), name="lot_ends_after_start"),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.title}"

    def save(self, *args, **kwargs):
        if not self.bid_count:  # until the first bid, the end is the listed one
            self.original_ends_at = self.ends_at
            if kwargs.get("update_fields") is not None and "ends_at" in kwargs["update_fields"]:
                kwargs["update_fields"] = {*kwargs["update_fields"], "original_ends_at"}
        super().save(*args, **kwargs)

    @property
    def reserve_met(self) -> bool:
        if self.reserve_price is None:
            return True
        return self.high_bid_amount is not None and self.high_bid_amount >= self.reserve_price

    @property
    def cover_photo(self) -> LotPhoto | None:
        """The first photo, for a lot list's thumbnail (prefetch `photos` when listing many lots)."""
        return next(iter(self.photos.all()), None)

    def accepts_bids_at(self, now: datetime) -> bool:
        return self.status in self.ACTIVE_STATUSES and self.starts_at <= now < self.ends_at

    def is_over_at(self, now: datetime) -> bool:
        return self.status in self.FINAL_STATUSES or now >= self.ends_at


class LotPhoto(models.Model):
    """One uploaded photo of a lot, as stored (auctions/photos.py): a display copy and a thumbnail, both re-encoded
    from the seller's upload through Django's storage API. The lot page shows them in `order`."""

    lot = models.ForeignKey(Lot, on_delete=models.CASCADE, related_name="photos")
    order = models.PositiveSmallIntegerField(default=0)
    image = models.ImageField(max_length=200)
    thumbnail = models.ImageField(max_length=200)
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["order", "pk"]

    def __str__(self) -> str:
        return f"photo {self.order + 1} of lot #{self.lot_id}"


class LotEvent(models.Model):
    """Every broadcast a lot ever made, by sequence number, so a client that missed one can `sync`."""

    lot = models.ForeignKey(Lot, on_delete=models.CASCADE, related_name="events")
    seq = models.PositiveBigIntegerField()
    payload = models.JSONField()
    created_at = models.DateTimeField(auto_now_add=True)
    # The outbox mark: set once a publish of the event succeeded. The relay (bidding/outbox.py) republishes any
    # event left unmarked for a second or two, e.g. by a worker that died between its commit and its publish.
    published_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["lot", "seq"], name="lot_event_seq_unique")]
        # Only the few unpublished rows are indexed: the relay's scan stays cheap however long the history.
        indexes = [
            models.Index(fields=["lot", "seq"], condition=Q(published_at__isnull=True), name="lot_event_unpublished")
        ]
        ordering = ["lot", "seq"]

    def __str__(self) -> str:
        return f"lot {self.lot_id} event {self.seq}"


class Notice(models.Model):
    """A personal notice (outbid, won, lot_closed, closing soon, staff actions), stored in the transaction that
    causes it, so `ws/me/` can replay what a user missed while away (`sync` with `since_id`)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notices")
    payload = models.JSONField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["user", "id"], name="notice_user_id")]

    def __str__(self) -> str:
        return f"notice {self.pk} to user {self.user_id}"


class Watch(models.Model):
    """A user's watchlist entry: they hear of the lot's last minute and its result wherever they are."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="watches")
    lot = models.ForeignKey(Lot, on_delete=models.CASCADE, related_name="watches")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "lot"], name="watch_unique_per_user")]

    def __str__(self) -> str:
        return f"user {self.user_id} watches lot {self.lot_id}"
