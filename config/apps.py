from django.apps import AppConfig


class GavelConfig(AppConfig):
    """The project's own app: it registers the system checks that hold settings to their rules."""

    name = "config"
    label = "gavel"

    def ready(self) -> None:
        from config import checks  # noqa: F401  (registers them)
