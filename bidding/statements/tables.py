"""The tables the hand-written statements touch, named by their models."""

from __future__ import annotations

from accounts.models import Profile
from auctions.models import Lot, LotEvent, Notice
from bidding.models import Bid, MaximumRaise

LOT = Lot._meta.db_table
PROFILE = Profile._meta.db_table
BID = Bid._meta.db_table
EVENT = LotEvent._meta.db_table
RAISE = MaximumRaise._meta.db_table
NOTICE = Notice._meta.db_table
