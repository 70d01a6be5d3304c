"""The bid path's hand-written statements: its pre-check read, its decision's locked read (reads) and its
decision's write (writes), one round trip each.

The ORM costs about 0.5 ms of Python per query on the target machine (docs/performance.md), and a bid path built on
it makes eight of them; a hot lot is CPU-bound on exactly that. Everything else stays in the ORM. Column and table
names come from the models (tables), so a renamed field fails loudly here rather than silently elsewhere.
"""

from bidding.statements.block import LockedBlock, lock_block
from bidding.statements.reads import (
    Locked,
    Precheck,
    lock_lot_for_decision,
    lock_lot_for_group,
    read_earlier,
    read_precheck,
)
from bidding.statements.writes import write_block, write_decision

__all__ = [
    "Locked",
    "LockedBlock",
    "Precheck",
    "lock_block",
    "lock_lot_for_decision",
    "lock_lot_for_group",
    "read_earlier",
    "read_precheck",
    "write_block",
    "write_decision",
]
