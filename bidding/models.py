from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q


class Bid(models.Model):
    """An accepted bid. Refused bids are never stored; they only ever reach the bidder who sent them.

    One client bid can write several rows (bidding/proxy.py): the leader's automatic answer, then the new bid,
    each with its own sequence number, so the history a bidder reads explains why they were outbid at once.
    """

    class Kind(models.TextChoices):
        MANUAL = "manual"
        AUTOMATIC = "automatic"  # placed by the system for the bidder's maximum
        BUY_NOW = "buy_now"

    class Source(models.TextChoices):
        """Where a live lot's bid came from (blank on a timed lot)."""

        INTERNET = "internet"
        FLOOR = "floor"  # the room, tapped by the clerk: no user, a paddle if the clerk gave one
        ABSENTEE = "absentee"  # executed for an absentee maximum (auctions/live_rules.py)

    lot = models.ForeignKey("auctions.Lot", on_delete=models.CASCADE, related_name="bids")
    bidder = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="bids"
    )
    # A database default too: the timed bid path writes its rows in SQL of its own (bidding/statements/writes.py).
    source = models.CharField(max_length=8, choices=Source.choices, blank=True, default="", db_default="")
    paddle = models.PositiveIntegerField(null=True, blank=True)
    # A live lot's clerk undid this bid (an event of its own): it no longer stands, and its price may be bid again.
    withdrawn_at = models.DateTimeField(null=True, blank=True)
    amount = models.BigIntegerField(help_text="Cents.")
    bid_id = models.CharField(  # noqa: DJ001 - NULL, not "", so the (bidder, bid_id) constraint spares automatic rows
        max_length=64,
        null=True,
        blank=True,
        help_text="Client-chosen id; a retry with the same id is not a new bid. None on automatic answers.",
    )
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.MANUAL)
    requested_amount = models.BigIntegerField(null=True, blank=True, help_text="Cents the client sent (retries).")
    max_amount = models.BigIntegerField(null=True, blank=True, help_text="Cents. Hidden: shown to its owner only.")
    outbid_at_once = models.BooleanField(default=False, help_text="Beaten by an automatic bid in the same decision.")
    standing_max = models.BigIntegerField(
        null=True,
        blank=True,
        help_text="Cents. On a request row: its bidder's own maximum standing after this bid, as their reply said "
        "(a retry gets the same). Hidden: shown to its owner only.",
    )
    seq = models.PositiveBigIntegerField(help_text="The lot's event sequence number of this bid.")
    bidder_number = models.PositiveIntegerField(help_text="Public alias on this lot: 'Bidder N'.")
    created_at = models.DateTimeField(help_text="Server time the bid was decided (accepted).")
    # The rule for "on time": a bid received before the end counts, however long it then queued for the lot.
    received_at = models.DateTimeField(
        null=True, blank=True, help_text="Server time the request arrived (the socket frame or the HTTP request)."
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["bidder", "bid_id"], name="bid_id_unique_per_bidder"),
            models.UniqueConstraint(fields=["lot", "seq"], name="bid_seq_unique_per_lot"),
            # The last line of defence against a lost update: no price ever stands twice as a lot's high bid. (A
            # bid that ties a hidden maximum is recorded, beaten at once, at the same amount: the earlier one leads.)
            # On a live lot prices fall when the clerk undoes a bid: a withdrawn bid no longer holds its price.
            models.UniqueConstraint(
                fields=["lot", "amount"],
                condition=Q(outbid_at_once=False, withdrawn_at__isnull=True),
                name="bid_amount_unique_per_lot",
            ),
            # Only the room bids without a user.
            models.CheckConstraint(condition=Q(bidder__isnull=False) | Q(source="floor"), name="bid_has_bidder"),
            models.CheckConstraint(condition=Q(amount__gt=0), name="bid_amount_positive"),
        ]
        indexes = [models.Index(fields=["lot", "bidder"])]
        ordering = ["lot", "seq"]

    def __str__(self) -> str:
        return f"{self.amount} on lot {self.lot_id} (seq {self.seq})"


class MaximumRaise(models.Model):
    """The leader raising their own hidden maximum: no visible bid, so no Bid row or event, but the bid log must
    still hold it for verify_lot to replay the lot exactly. Secret like every maximum."""

    lot = models.ForeignKey("auctions.Lot", on_delete=models.CASCADE, related_name="maximum_raises")
    bidder = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    max_amount = models.BigIntegerField(help_text="Cents.")
    requested_amount = models.BigIntegerField(null=True, blank=True, help_text="Cents the client sent (retries).")
    amount = models.BigIntegerField(null=True, blank=True, help_text="Cents: the visible price when it was raised.")
    bid_id = models.CharField(max_length=64)
    after_seq = models.PositiveBigIntegerField(help_text="The lot's sequence number when it was raised.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        # One bid_id names one action of one user: a retried raise finds its original instead of writing again.
        constraints = [models.UniqueConstraint(fields=["bidder", "bid_id"], name="raise_bid_id_unique_per_bidder")]
        ordering = ["lot", "after_seq", "id"]

    def __str__(self) -> str:
        return f"maximum raised on lot {self.lot_id} after seq {self.after_seq}"


class BidPathHealth(models.Model):
    """When the closing worker last saw the bid path healthy (PostgreSQL and the lock store answering), and whether
    one has since seen it down: one row, kept in the database so that a worker started after an outage still knows
    when it began (bidding/outage.py)."""

    last_ok_at = models.DateTimeField()
    # Set by a closing worker that found the lock store down while it could still write here (a worker that finds
    # PostgreSQL down remembers it in memory); cleared once the outage is dealt with.
    down_seen_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name_plural = "bid path health"

    def __str__(self) -> str:
        return f"bid path last seen healthy at {self.last_ok_at.isoformat()}"
