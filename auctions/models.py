"""The lot: what is sold, when, and its current state. Money is integer cents throughout."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

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
        return self.active().timed().filter(starts_at__lte=now, ends_at__gt=now)

    def due_to_open(self, now: datetime) -> LotQuerySet:
        """Scheduled lots whose start has come and whose end has not."""
        return self.timed().filter(status=Lot.Status.SCHEDULED, starts_at__lte=now, ends_at__gt=now)

    def ended_by(self, when: datetime) -> LotQuerySet:
        """Active lots whose end is at or before `when`: what the closing pass still has to close."""
        return self.active().timed().filter(ends_at__lte=when)

    def timed(self) -> LotQuerySet:
        """Lots with an end time: the clock (opening, closing soon, closing, soft close) and the timed bid path."""
        return self.filter(sale__isnull=True)

    def live(self) -> LotQuerySet:
        """Lots in a live sale: no end time; the clerk's hammer ends them."""
        return self.filter(sale__isnull=False)

    def active_or_ended_since(self, since: datetime) -> LotQuerySet:
        """Active lots, and those closed or cancelled at or after `since`."""
        return self.filter(Q(status__in=Lot.ACTIVE_STATUSES) | Q(closed_at__gte=since))


class Lot(models.Model):
    # The schema's own limits. A description is prose for the lot page, never sent over the lot socket; the limit
    # keeps one lot's page and its HTTP answers a reasonable size whatever a seller pastes.
    TITLE_MAX_CHARS = 200
    DESCRIPTION_MAX_CHARS = 5_000
    # The seller's details (condition, shipping, collection, payment): short notes, each bounded.
    CONDITION_NOTE_MAX_CHARS = 300
    SHIPS_TO_MAX_CHARS = 200
    INSTRUCTIONS_MAX_CHARS = 1_000
    # A buyer's premium is 0 to 25 percent, whole or to one decimal (12.5): an exact Decimal, never a float.
    BUYERS_PREMIUM_MAX = Decimal("25")

    class Condition(models.TextChoices):
        NEW = "new", "New"
        LIKE_NEW = "like_new", "Like new"
        GOOD = "good", "Good"
        FAIR = "fair", "Fair"
        FOR_PARTS = "for_parts", "For parts"

    class Status(models.TextChoices):
        SCHEDULED = "scheduled"
        OPEN = "open"
        CLOSED = "closed"
        CANCELLED = "cancelled"

    class LiveState(models.TextChoices):
        """A live lot's life on the block (docs/live-sales.md); blank for a timed lot."""

        WAITING = "waiting"
        OPEN = "open"
        FAIR_WARNING = "fair_warning"
        SOLD = "sold"
        PASSED = "passed"

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
    # Empty exactly for a lot in a live sale (constraint lot_timed_or_live): the clerk's hammer ends it.
    ends_at = models.DateTimeField(
        null=True, blank=True, help_text="Moves later when a bid lands inside the soft-close window."
    )
    # The end as listed, before any soft-close extension: verify_lot replays extensions from it.
    original_ends_at = models.DateTimeField(null=True, blank=True, editable=False)
    soft_close_window = models.PositiveIntegerField(default=_default_soft_close_window, help_text="Seconds.")
    soft_close_extension = models.PositiveIntegerField(default=_default_soft_close_extension, help_text="Seconds.")
    hard_end_at = models.DateTimeField(null=True, blank=True, help_text="Optional: extensions never go past it.")
    buy_now_price = models.BigIntegerField(
        null=True, blank=True, help_text="Cents. Optional: anyone may end the lot at this price until the first bid."
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.SCHEDULED)

    # What the seller tells bidders (public) and the winner (collection and payment instructions: the winner and
    # the seller only). auctions/rules.py `winner_total` turns the premium and shipping into the winner's total.
    condition = models.CharField(max_length=10, choices=Condition.choices, blank=True)
    condition_note = models.CharField(max_length=CONDITION_NOTE_MAX_CHARS, blank=True)
    shipping_price = models.BigIntegerField(
        null=True, blank=True, help_text="Cents, 0 for free shipping. Empty: collection only."
    )
    ships_to = models.CharField(max_length=SHIPS_TO_MAX_CHARS, blank=True, help_text="Where the lot ships.")
    collection_instructions = models.TextField(blank=True, max_length=INSTRUCTIONS_MAX_CHARS)
    buyers_premium_percent = models.DecimalField(
        max_digits=3, decimal_places=1, default=Decimal("0"), help_text="Percent of the hammer price, 0 to 25."
    )
    payment_instructions = models.TextField(blank=True, max_length=INSTRUCTIONS_MAX_CHARS)

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

    # A live sale's lot (auctions/sales.py): its place in the sale's catalogue and its state on the block.
    sale = models.ForeignKey("Sale", null=True, blank=True, on_delete=models.PROTECT, related_name="lots")
    sale_position = models.PositiveIntegerField(null=True, blank=True)
    live_state = models.CharField(max_length=12, choices=LiveState.choices, blank=True)
    # On the block (bidding/services/live/): the amount asked now; the clerk's flat increment (empty: the site
    # table), kept until changed; the hammer's server time; who leads when it is not an internet bidder's user
    # (source floor/absentee/internet, and the paddle the clerk sees); the internet bid waiting for the clerk's
    # Accept when the sale does not auto-accept ({user, amount, bid_id, received_at}).
    live_ask = models.BigIntegerField(null=True, blank=True)
    live_increment = models.BigIntegerField(null=True, blank=True)
    hammer_at = models.DateTimeField(null=True, blank=True)
    live_leader_source = models.CharField(max_length=8, blank=True)
    live_leader_paddle = models.PositiveIntegerField(null=True, blank=True)
    live_pending = models.JSONField(null=True, blank=True)

    objects = LotQuerySet.as_manager()

    class Meta:
        indexes = [models.Index(fields=["status", "ends_at"])]
        constraints = [
            models.CheckConstraint(condition=Q(starting_price__gt=0), name="lot_starting_price_positive"),
            models.CheckConstraint(condition=Q(ends_at__gt=models.F("starts_at")), name="lot_ends_after_start"),
            models.CheckConstraint(
                condition=Q(buyers_premium_percent__gte=0, buyers_premium_percent__lte=25),
                name="lot_buyers_premium_0_to_25",
            ),
            models.CheckConstraint(
                condition=Q(shipping_price__isnull=True) | Q(shipping_price__gte=0), name="lot_shipping_not_negative"
            ),
            # A timed lot has an end; a live one has none (and a state on the block).
            models.CheckConstraint(
                condition=Q(sale__isnull=True, ends_at__isnull=False, live_state="")
                | Q(sale__isnull=False, ends_at__isnull=True, sale_position__isnull=False),
                name="lot_timed_or_live",
            ),
            models.UniqueConstraint(fields=["sale", "sale_position"], name="lot_sale_position_unique"),
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
    def number(self) -> int:
        """The public lot number ("Lot 42"): its primary key, so it never changes and never repeats."""
        return self.pk

    @property
    def reserve_met(self) -> bool:
        if self.reserve_price is None:
            return True
        return self.high_bid_amount is not None and self.high_bid_amount >= self.reserve_price

    @property
    def cover_photo(self) -> LotPhoto | None:
        """The first photo, for a lot list's thumbnail (prefetch `photos` when listing many lots)."""
        return next(iter(self.photos.all()), None)

    @property
    def is_live(self) -> bool:
        return self.sale_id is not None

    def accepts_bids_at(self, now: datetime) -> bool:
        """Timed bids only: a live lot takes its bids on the block, never by the clock."""
        if self.is_live:
            return False
        return self.status in self.ACTIVE_STATUSES and self.starts_at <= now < self.ends_at

    def is_over_at(self, now: datetime) -> bool:
        if self.is_live:
            return self.status in self.FINAL_STATUSES or self.live_state in (
                self.LiveState.SOLD,
                self.LiveState.PASSED,
            )
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

    class Mail(models.TextChoices):
        """What the mail pass (auctions/notice_mail.py) made of the notice."""

        PENDING = "pending"  # not looked at yet, or waiting for `mail_after`
        SENT = "sent"  # a mail went out with it (the newest of its kind for its lot and user)
        MERGED = "merged"  # an older one of the same kind, lot and user, told in the same mail
        SKIPPED = "skipped"  # no mail: a kind never mailed, turned off, no address, or out of date

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notices")
    payload = models.JSONField()
    created_at = models.DateTimeField(auto_now_add=True)
    # Database defaults: the bid path stores its `outbid` notices by hand (bidding/statements/writes.py).
    mail_state = models.CharField(max_length=8, choices=Mail.choices, db_default=Mail.PENDING, editable=False)
    # PENDING: not before then (a failed send's retry, or the rest of a recent mail's quiet period); else when done.
    mail_after = models.DateTimeField(null=True, blank=True, editable=False)
    mailed_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        indexes = [
            models.Index(fields=["user", "id"], name="notice_user_id"),
            # Only the few notices the mail pass has not dealt with are indexed: its scan stays cheap.
            models.Index(fields=["id"], condition=Q(mail_state="pending"), name="notice_mail_pending"),
        ]

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


class Sale(models.Model):
    """A live sale: a catalogue of lots sold one at a time on the block, driven by clerks (auctions/sales.py,
    docs/live-sales.md). The house is the seller running it; staff may always clerk."""

    TITLE_MAX_CHARS = 200
    PAUSE_MESSAGE_MAX_CHARS = 300

    class Status(models.TextChoices):
        SCHEDULED = "scheduled"
        RUNNING = "running"
        PAUSED = "paused"
        FINISHED = "finished"

    house = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="sales_run")
    title = models.CharField(max_length=TITLE_MAX_CHARS)
    starts_at = models.DateTimeField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.SCHEDULED)
    requires_approval = models.BooleanField(default=False, help_text="Registrations wait for the house's approval.")
    clerks = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="sales_clerked")
    current_lot = models.ForeignKey(Lot, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    auto_accept = models.BooleanField(default=True, help_text="Internet bids at the ask are taken without a click.")
    pause_message = models.CharField(max_length=PAUSE_MESSAGE_MAX_CHARS, blank=True)
    # The one driving console: its clerk, its socket's channel name, when it was last heard from (the closing
    # worker pauses the sale when that is too long ago: bidding/live_console.py pause_unattended).
    driver = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    driver_channel = models.CharField(max_length=200, blank=True)
    driver_seen_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"sale #{self.pk} {self.title}"


class SaleRegistration(models.Model):
    """A bidder registered for a sale, with their paddle number (internet paddles from PADDLE_FIRST_INTERNET up)."""

    PADDLE_FIRST_INTERNET = 5_000

    sale = models.ForeignKey(Sale, on_delete=models.CASCADE, related_name="registrations")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="sale_registrations")
    paddle = models.PositiveIntegerField()
    approved = models.BooleanField(default=False)
    approved_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["sale", "user"], name="sale_registration_once"),
            models.UniqueConstraint(fields=["sale", "paddle"], name="sale_paddle_unique"),
        ]

    def __str__(self) -> str:
        return f"paddle {self.paddle} in sale {self.sale_id}"


class AbsenteeBid(models.Model):
    """A registered bidder's secret maximum on a lot, left before it is offered; the clerk's console executes it
    against the room (auctions/live_rules.py). Equal maxima go to the earlier one: `placed_at`, then `pk`."""

    registration = models.ForeignKey(SaleRegistration, on_delete=models.CASCADE, related_name="absentee_bids")
    lot = models.ForeignKey(Lot, on_delete=models.CASCADE, related_name="absentee_bids")
    max_amount = models.BigIntegerField(help_text="Cents. Secret: never shown to anyone but its bidder.")
    # When the maximum was set at its amount (placed or raised): of equal maxima, the earlier one leads.
    placed_at = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["lot", "registration"], name="absentee_bid_once_per_lot"),
            models.CheckConstraint(condition=Q(max_amount__gt=0), name="absentee_bid_positive"),
        ]

    def __str__(self) -> str:
        return f"absentee bid on lot {self.lot_id} by registration {self.registration_id}"
