from django.apps import AppConfig


class BiddingConfig(AppConfig):
    name = "bidding"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from bidding import locks

        locks.log_mode()
