"""Servers: docker-compose.yml and the Dockerfile, `make serve`, the load test and the benchmark.

The secret and the database come from the environment, with no default: start-up fails without them.
"""

from config.settings.base import *  # noqa: F403
from config.settings.environment import env

SECRET_KEY = env.str("SECRET_KEY")
env.str("DATABASE_URL")  # base.py has read it; here it has no SQLite default
