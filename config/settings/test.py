"""pytest (pytest.ini), and the servers and workers tests start: they inherit DJANGO_SETTINGS_MODULE, and
conftest.service_env gives one a module of its own that imports this one when a test changes a constant."""

from config.settings.base import *  # noqa: F403

SECRET_KEY = "test-only-secret-key"
# Fixtures create many users; the production hasher costs ~0.3 s a password.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# Uploaded photos go to a directory of their own, shared by pytest and the servers it starts; Django serves them.
MEDIA_ROOT = BASE_DIR / ".test-media"  # noqa: F405
SERVE_MEDIA = True
