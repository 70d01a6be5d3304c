import time

from django.conf import settings
from django.core.management.base import BaseCommand

from bidding.closing import closing_pass, closing_pass_in_loop


class Command(BaseCommand):
    help = "Open scheduled lots and close ended ones. Safe to run in several processes at once."

    def add_arguments(self, parser):
        parser.add_argument("--once", action="store_true", help="One pass, then exit.")
        parser.add_argument("--interval", type=float, default=None, help="Seconds between passes.")

    def handle(self, *args, once: bool, interval: float | None, **options):
        if once:
            closing_pass()
            return
        interval = interval if interval is not None else settings.CLOSE_LOTS_INTERVAL_SECONDS
        while True:
            closing_pass_in_loop()  # a database blip must not kill the worker; the next pass retries
            time.sleep(interval)
