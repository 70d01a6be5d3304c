from django.apps import AppConfig


class BiddingConfig(AppConfig):
    name = "bidding"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from auctions import publish
        from bidding import locks
        from bidding.broadcast import ChannelsSender

        publish.register_sender(ChannelsSender())
        locks.log_mode()
