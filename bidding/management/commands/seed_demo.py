from django.core.management.base import BaseCommand

from auctions.fixtures import ensure_user
from bidding.demo_catalogue import seed_catalogue

PASSWORD = "gavel-demo"


class Command(BaseCommand):
    help = "Create demo users and a dozen varied lots (idempotent) and print the logins."

    def handle(self, *args, **options):
        ensure_user("admin", PASSWORD, can_bid=False, is_staff=True)
        seller = ensure_user("seller", PASSWORD, can_bid=False, can_sell=True)
        bidders = {}
        for name in ("alice", "bob", "carol"):
            bidders[name] = ensure_user(name, PASSWORD, can_bid=True)
            if not bidders[name].email:  # so their notice mails (outbid, won, …) show on the demo's console
                bidders[name].email = f"{name}@example.com"
                bidders[name].save(update_fields=["email"])
        lots = seed_catalogue(seller, bidders)
        self.stdout.write(f"Demo logins (password for all: {PASSWORD}):")
        self.stdout.write("  alice, bob, carol  verified bidders (some bids placed; their notice mails print here)")
        self.stdout.write("  seller             a verified seller: owns the demo lots (cannot bid on them)")
        self.stdout.write("  admin              staff: http://127.0.0.1:8000/admin/")
        self.stdout.write(f"{len(lots)} lots: http://127.0.0.1:8000/ (the first ends in a few minutes)")
