"""The benchmark's settings (loadtests/bench.py): production's, with the soft close off for new lots, so that a
lot's bids never move its end while it is measured."""

from config.settings.production import *  # noqa: F403

SOFT_CLOSE_WINDOW_SECONDS = 0
