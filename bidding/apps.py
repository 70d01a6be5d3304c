from django.apps import AppConfig


class BiddingConfig(AppConfig):
    name = "bidding"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from auctions import publish
        from bidding import fanout, locks
        from bidding.broadcast import ChannelsSender
        from bidding.closing import closing_loop

        publish.register_sender(ChannelsSender())
        fanout.register_closing_loop(closing_loop)
        locks.log_mode()
