from django.core.management.base import BaseCommand, CommandError

from auctions.models import Lot
from bidding.replay import verify_lot


class Command(BaseCommand):
    help = (
        "Replay lots' bid logs from scratch (increments, automatic bids, soft-close extensions) and compare with "
        "the stored state. Exits non-zero and says what differs."
    )

    def add_arguments(self, parser):
        parser.add_argument("lot_ids", nargs="*", type=int)
        parser.add_argument("--all", action="store_true", help="Every lot.")

    def handle(self, *args, lot_ids: list[int], all: bool, **options):
        if not lot_ids and not all:
            raise CommandError("Name lot ids, or --all.")
        lots = Lot.objects.order_by("pk") if all else Lot.objects.filter(pk__in=lot_ids).order_by("pk")
        missing = set(lot_ids) - set(lots.values_list("pk", flat=True))
        failed = 0
        for lot in lots.iterator():
            problems = verify_lot(lot)
            if problems:
                failed += 1
                self.stdout.write(f"lot {lot.pk}: {len(problems)} difference(s)")
                for problem in problems:
                    self.stdout.write(f"  - {problem}")
            else:
                self.stdout.write(f"lot {lot.pk}: ok (seq {lot.seq}, {lot.bid_count} bids)")
        for lot_id in sorted(missing):
            self.stdout.write(f"lot {lot_id}: no such lot")
        if failed or missing:
            raise CommandError(f"{failed + len(missing)} lot(s) failed verification")
