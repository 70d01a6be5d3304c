"""Before the lock: the pre-check read, the answer to a retry, and database trouble turned into refusals."""

from __future__ import annotations

from datetime import datetime

import structlog
from django.db import IntegrityError, InterfaceError, OperationalError

from auctions.exceptions import BidRefused, LotNotFound, NotAuthenticated, Unavailable
from auctions.models import Lot
from bidding import statements
from bidding.retries import BidOutcome, Recorded, Request
from bidding.services.checks import check_amount, check_bidder, check_lot_accepts

log = structlog.get_logger(__name__)


def retry_of(earlier: tuple | None, request: Request, *, bid_id: str) -> BidOutcome | None:
    """The original answer if `bid_id` already named an accepted action of this bidder (InvalidBid if that action
    was a different one); None if it is new."""
    if earlier is None:
        return None
    return BidOutcome.of(Recorded.from_row(earlier).answer(request), bid_id=bid_id, duplicate=True)


def earlier_answer(
    user, *, lot_id: int, amount: int | None, bid_id: str, max_amount: int | None = None, action: str = "bid"
) -> BidOutcome | None:
    """A retry of an action accepted earlier gets its original answer; a reused id for another action is invalid."""
    return retry_of(
        statements.read_earlier(user_id=user.pk, bid_id=bid_id),
        Request(action, lot_id, amount, max_amount),
        bid_id=bid_id,
    )


def check_before_lock(
    user, *, lot_id: int, amount: int, bid_id: str, max_amount: int | None, received_at: datetime
) -> BidOutcome | None:
    """Everything that can be refused without the lock, from one read. Returns the earlier outcome of a retry."""
    if user is None or not user.is_authenticated:
        raise NotAuthenticated()
    found = statements.read_precheck(lot_id=lot_id, user_id=user.pk, bid_id=bid_id)
    earlier = retry_of(found.earlier, Request("bid", lot_id, amount, max_amount), bid_id=bid_id)
    if earlier:
        return earlier
    if found.lot is None:
        raise LotNotFound()
    check_bidder(user, found.lot, can_bid=found.can_bid, banned=found.banned)
    check_lot_accepts(found.lot, received_at)
    check_amount(found.lot, amount)
    return None


def guarded(
    step,
    user,
    *,
    lot_id: int,
    amount: int | None,
    bid_id: str,
    max_amount: int | None = None,
    action: str = "bid",
    **more,
) -> BidOutcome | None:
    """Run a database step; database trouble becomes a refusal the client can act on, never a half-written bid."""
    try:
        return step(user, lot_id=lot_id, amount=amount, bid_id=bid_id, max_amount=max_amount, **more)
    except BidRefused:
        raise
    except Lot.DoesNotExist:
        raise LotNotFound() from None  # deleted after the pre-check
    except IntegrityError:
        # A twin with the same bid_id on another lot, committed meanwhile (one lot's row lock orders its own).
        earlier = earlier_answer(
            user, lot_id=lot_id, amount=amount, bid_id=bid_id, max_amount=max_amount, action=action
        )
        if earlier:
            return earlier
        log.exception("bid_integrity_error", lot_id=lot_id, bid_id=bid_id)
        raise Unavailable() from None
    except (OperationalError, InterfaceError) as exc:
        log.error("bid_database_unavailable", lot_id=lot_id, bid_id=bid_id, error=repr(exc))
        raise Unavailable() from exc
    except Exception:
        # Whatever else went wrong, the transaction rolled back: the bidder hears `unavailable`, never a raw error.
        log.exception("bid_decision_failed", lot_id=lot_id, bid_id=bid_id)
        raise Unavailable() from None
