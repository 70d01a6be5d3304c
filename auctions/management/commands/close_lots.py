import time

import structlog
from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import DatabaseError

from auctions.services import closing_pass

log = structlog.get_logger(__name__)


class Command(BaseCommand):
    help = "Open scheduled lots and close ended ones. Safe to run in several processes at once."

    def add_arguments(self, parser):
        parser.add_argument("--once", action="store_true", help="One pass, then exit.")
        parser.add_argument("--interval", type=float, default=None, help="Seconds between passes.")

    def handle(self, *args, once: bool, interval: float | None, **options):
        interval = interval if interval is not None else settings.CLOSE_LOTS_INTERVAL_SECONDS
        while True:
            try:
                closing_pass()
            except DatabaseError:
                if once:
                    raise
                # A database blip must not kill the worker; the next pass retries.
                log.exception("close_lots_pass_failed")
            if once:
                return
            time.sleep(interval)
