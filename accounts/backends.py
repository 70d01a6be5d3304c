"""Authentication backends (config/settings/base.py AUTHENTICATION_BACKENDS)."""

from __future__ import annotations

from axes.backends import AxesStandaloneBackend


class LoginThrottle(AxesStandaloneBackend):
    """django-axes' lockout for every login a client makes; refuses nothing itself, ModelBackend signs in.

    A call to authenticate() with no request is not a client's login (a script, the test client's login()): there
    is no address to count, so it passes to the next backend, where axes' own would raise."""

    def authenticate(self, request, username=None, password=None, **kwargs):
        if request is None:
            return None
        return super().authenticate(request, username=username, password=password, **kwargs)
