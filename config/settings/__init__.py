"""Settings modules: `local` (a laptop: manage.py and the ASGI app's default), `test` (pytest), `production`.

Each imports `base` (what operators choose, read from the environment in `environment.py`) and `base` imports `conf`
(the tuning constants). The rules between settings are system checks (`config/checks.py`).
"""

import os

from django.core.exceptions import ImproperlyConfigured

if os.environ.get("DJANGO_SETTINGS_MODULE") == "config.settings":
    raise ImproperlyConfigured(
        "DJANGO_SETTINGS_MODULE=config.settings names the package, not a settings module: use"
        " config.settings.production (servers), config.settings.local (a laptop) or config.settings.test (pytest)"
    )
