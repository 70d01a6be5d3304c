"""A laptop: `make demo`, manage.py and the ASGI app unless DJANGO_SETTINGS_MODULE says otherwise.

DEBUG stays off unless DEBUG=true is set (`DEBUG=true make demo` for tracebacks in the browser).
"""

from config.settings.base import *  # noqa: F403
from config.settings.environment import env

# A key that only exists so a laptop runs with no set-up; production.py has no default.
SECRET_KEY = env.str("SECRET_KEY", default="dev-insecure-key-for-this-laptop-only")
# Mail (password reset links) is printed on the console unless EMAIL_URL names a server.
vars().update(env.email_url("EMAIL_URL", default="consolemail://"))
# Links in notice mails point at `make demo`'s address.
SITE_URL = "http://127.0.0.1:8000"
# Django serves the uploaded photos (MEDIA_ROOT) itself: no nginx on a laptop.
SERVE_MEDIA = True
