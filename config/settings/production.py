"""Servers: docker-compose.yml and the Dockerfile, `make serve`, the load test and the benchmark.

The secret and the database come from the environment, with no default: start-up fails without them. The site is
served over https (TLS ends at nginx or a balancer before it; config/client_address.py reads the scheme it
forwards) unless HTTPS=false says this is a plain-http stack on one machine (`make loadtest`, `make bench`).
`manage.py check --deploy` reports nothing here; the checks silenced below are justified in docs/operations.md.
"""

from config.settings.base import *  # noqa: F403
from config.settings.environment import env

SECRET_KEY = env.str("SECRET_KEY")
env.str("DATABASE_URL")  # base.py has read it; here it has no SQLite default

HTTPS = env.bool("HTTPS", default=True)
# Cookies that would travel over plain http are readable by anyone on the path: over https only.
SESSION_COOKIE_SECURE = HTTPS
CSRF_COOKIE_SECURE = HTTPS
# Browsers that have seen the site once refuse plain http to it for a year (sent on https responses only).
SECURE_HSTS_SECONDS = 31_536_000 if HTTPS else 0

SILENCED_SYSTEM_CHECKS = [
    "security.W008",  # SECURE_SSL_REDIRECT: the edge redirects http to https; workers see only the proxy
    "security.W005",  # SECURE_HSTS_INCLUDE_SUBDOMAINS: other subdomains are the domain owner's, not this app's
    "security.W021",  # SECURE_HSTS_PRELOAD: preloading is a decision for the domain, made at the edge
]
