import threading
import time

from django.conf import settings
from django.core.management.base import BaseCommand

from auctions import notice_mail
from bidding.closing import closing_pass, closing_pass_in_loop


class Command(BaseCommand):
    help = (
        "Open scheduled lots and close ended ones; send notice mail (in a thread of its own)."
        " Safe to run in several processes at once."
    )

    def add_arguments(self, parser):
        parser.add_argument("--once", action="store_true", help="One pass, then exit.")
        parser.add_argument("--interval", type=float, default=None, help="Seconds between passes.")

    def handle(self, *args, once: bool, interval: float | None, **options):
        if once:
            closing_pass()
            notice_mail.mail_pass()
            return
        interval = interval if interval is not None else settings.CLOSE_LOTS_INTERVAL_SECONDS
        # Its own thread: a mail server that is slow or away never holds up opening and closing lots.
        threading.Thread(target=notice_mail.run_forever, name="notice-mail", daemon=True).start()
        while True:
            closing_pass_in_loop()  # a database blip must not kill the worker; the next pass retries
            time.sleep(interval)
