import json

from django.contrib.auth.hashers import make_password
from django.core.management.base import BaseCommand

from auctions.fixtures import ensure_open_lots, ensure_user, new_sale


class Command(BaseCommand):
    help = "Create (idempotently) a verified seller, M verified bidders and N open lots for load tests; prints JSON."

    def add_arguments(self, parser):
        parser.add_argument("--lots", type=int, default=10)
        parser.add_argument("--bidders", type=int, default=50)
        parser.add_argument("--password", default="loadtest-pass")
        parser.add_argument("--minutes", type=float, default=30.0)
        parser.add_argument("--prefix", default="lt", help="Username prefix, so several fixtures can coexist.")
        parser.add_argument(
            "--sale-lots",
            type=int,
            default=0,
            help="Also a new live sale of this many lots (at most NEW_SELLER_MAX_OPEN_LOTS), with a house of its own "
            "(its clerk) and every bidder registered.",
        )
        parser.add_argument("--json", dest="json_only", action="store_true", help="Print only the JSON summary.")

    def handle(self, *args, lots, bidders, password, minutes, prefix, sale_lots: int, json_only: bool, **options):
        hashed = make_password(password)  # one hash shared by the fixture users: seeding 1,000 stays quick
        seller = ensure_user(f"{prefix}-seller", password, can_bid=False, can_sell=True, password_hash=hashed)
        names = [f"{prefix}-bidder-{i:04d}" for i in range(bidders)]
        users = [ensure_user(name, password, can_bid=True, password_hash=hashed) for name in names]
        open_lots = ensure_open_lots(seller, titles=[f"{prefix} lot {i}" for i in range(lots)], minutes=minutes)
        summary = {
            "seller": seller.username,
            "bidders": names,
            "lots": [lot.pk for lot in open_lots],
            "password": password,
        }
        if sale_lots:
            sale, made = new_sale(prefix=prefix, password=password, password_hash=hashed, lots=sale_lots, bidders=users)
            summary["sale"] = {"id": sale.pk, "lots": [lot.pk for lot in made], "clerk": sale.house.username}
        self.stdout.write(json.dumps(summary) if json_only else f"seeded: {json.dumps(summary)}")
