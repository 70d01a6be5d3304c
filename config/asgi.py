"""The client's address is resolved first; then HTTP goes to Django, and WebSockets pass the Origin check, the
session, the socket caps and the URL router."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
django_asgi_app = get_asgi_application()  # before importing consumers: it sets up the app registry

import sys  # noqa: E402

from django.conf import settings  # noqa: E402

# The ORM runs in worker threads that need the GIL back after every database round trip; with CPython's default
# 5 ms switch interval each of those waits can cost up to 5 ms while the event loop is busy (measured:
# docs/performance.md).
sys.setswitchinterval(settings.GIL_SWITCH_INTERVAL_SECONDS)
from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402

from bidding.routing import websocket_urlpatterns  # noqa: E402
from bidding.socket_middleware import SessionRevalidation, SocketCaps  # noqa: E402
from config.client_address import ClientAddress  # noqa: E402

# Outside in: the client's address (behind a trusted proxy, the one it forwarded), then for sockets the Origin, the
# session user, the socket caps, the session's continued validity, then the consumer.
application = ClientAddress(
    ProtocolTypeRouter(
        {
            "http": django_asgi_app,
            "websocket": AllowedHostsOriginValidator(
                AuthMiddlewareStack(SocketCaps(SessionRevalidation(URLRouter(websocket_urlpatterns))))
            ),
        }
    )
)

# The cyclic garbage collector stops the whole process while it walks every tracked object: with 1,000 sockets a
# full (generation 2) collection lasts 120-170 ms on a 2-core VM, long enough to hold one bid's broadcast back for
# all of them (the fan-out p99). Everything loaded so far lives as long as the process, so it is moved out of the
# collector's reach, and the thresholds make full collections rare (docs/performance.md, "Garbage collector pauses").
import gc  # noqa: E402

gc.set_threshold(*settings.GC_THRESHOLDS)
gc.freeze()
