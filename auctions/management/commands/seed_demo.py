from django.core.management.base import BaseCommand

from auctions.fixtures import ensure_open_lots, ensure_user

PASSWORD = "gavel-demo"
LOTS = [
    "Vintage Leica M3 camera",
    "Signed first edition, 1954",
    "Mid-century teak sideboard",
    "Omega Seamaster, 1968",
    "Hand-thrown stoneware set",
]


class Command(BaseCommand):
    help = "Create demo users and lots (idempotent) and print the logins."

    def handle(self, *args, **options):
        ensure_user("admin", PASSWORD, can_bid=False, is_staff=True)
        seller = ensure_user("seller", PASSWORD, can_bid=False, can_sell=True)
        for name in ("alice", "bob", "carol"):
            bidder = ensure_user(name, PASSWORD, can_bid=True)
            if not bidder.email:  # so their notice mails (outbid, won, …) show on the demo's console
                bidder.email = f"{name}@example.com"
                bidder.save(update_fields=["email"])
        lots = ensure_open_lots(seller, titles=LOTS, minutes=60)
        self.stdout.write(f"Demo logins (password for all: {PASSWORD}):")
        self.stdout.write("  alice, bob, carol  verified bidders (their notice mails are printed on this console)")
        self.stdout.write("  seller             a verified seller: owns the demo lots (cannot bid on them)")
        self.stdout.write("  admin              staff: http://127.0.0.1:8000/admin/")
        self.stdout.write("Lots: " + ", ".join(f"http://127.0.0.1:8000/lots/{lot.pk}/" for lot in lots))
