"""Shared fixtures: real PostgreSQL and Redis checks, factories, sessions, and a live Daphne."""

from __future__ import annotations

import atexit
import hashlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlparse

import pytest
from django.conf import settings

ROOT = Path(__file__).resolve().parent
ORIGIN = "http://127.0.0.1"


def reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=2):
            return True
    except OSError:
        return False


def pytest_configure(config) -> None:
    """The bid path is tested against the real engines: a missing one is a failure, never a skip. The fast tier
    (`-m pure`, make test-fast) needs neither."""
    if config.getoption("markexpr") == "pure":
        return
    db = settings.DATABASES["default"]
    problems = []
    if db["ENGINE"] != "django.db.backends.postgresql":
        problems.append("DATABASE_URL must point at PostgreSQL (use `make test`)")
    elif not reachable(db.get("HOST") or "127.0.0.1", int(db.get("PORT") or 5432)):
        problems.append(f"PostgreSQL is not reachable at {db.get('HOST')}:{db.get('PORT')}")
    if settings.REDIS_URL:
        from accounts.redis_connections import redis_target

        parsed = urlparse(settings.REDIS_URL)
        servers = redis_target(settings.REDIS_URL).sentinels or [(parsed.hostname or "127.0.0.1", parsed.port or 6379)]
        if not any(reachable(host, port) for host, port in servers):
            problems.append(f"Redis is not reachable at {settings.REDIS_URL}")
    if problems:
        pytest.exit("cannot test the bid path: " + "; ".join(problems), returncode=3)


def pytest_collection_modifyitems(config, items) -> None:
    # Tests that restart PostgreSQL run last: every process's pooled connections die with the server.
    items.sort(key=lambda item: "restarts_postgres" in item.keywords)
    if settings.REDIS_URL:
        return
    for item in items:
        if "redis_only" in item.keywords:
            item.add_marker(pytest.mark.skip(reason="single-process mode: this test is about Redis itself"))


@pytest.fixture(autouse=True)
def _clean_redis():
    """Each test starts with no stale locks or group memberships from the previous one."""
    if settings.REDIS_URL:
        from bidding.locks import redis_client

        redis_client().flushdb()
    yield


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    """Async tests leave connections open in worker threads; end them so the test database can be dropped."""
    yield
    from django.db import connection

    with django_db_blocker.unblock(), connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )


# --- factories ---------------------------------------------------------------------------------------------------
@pytest.fixture
def make_user(django_user_model):
    counter = iter(range(1, 1_000_000))

    def make(
        username: str | None = None,
        *,
        can_bid: bool = True,
        can_sell: bool = True,
        banned: bool = False,
        password: str = "pw",
    ):
        """A user verified to bid and to sell unless told otherwise (sign-up grants neither)."""
        from accounts.models import Profile

        user = django_user_model.objects.create_user(username=username or f"user{next(counter)}", password=password)
        Profile.objects.filter(user=user).update(can_bid=can_bid, can_sell=can_sell, banned=banned)
        return user

    return make


@pytest.fixture
def make_lot(make_user):
    def make(
        *,
        seller=None,
        starting_price: int = 1_000,
        ends_in: timedelta | None = timedelta(hours=1),
        starts_in: timedelta = timedelta(seconds=-1),
        **fields,
    ):
        """A timed lot, open now unless told otherwise; `ends_in=None` (no end) is for a live sale's lot."""
        from django.utils import timezone

        from auctions.models import Lot

        now = timezone.now()
        return Lot.objects.create(
            seller=seller or make_user(can_bid=False),
            title=fields.pop("title", "A lot"),
            starting_price=starting_price,
            starts_at=now + starts_in,
            ends_at=now + ends_in if ends_in is not None else None,
            status=fields.pop("status", Lot.Status.OPEN),
            **fields,
        )

    return make


@pytest.fixture
def make_sale(make_user, make_lot):
    def make(
        *,
        house=None,
        lots: int = 3,
        starting_price: int = 1_000,
        starts_in: timedelta = timedelta(days=1),
        requires_approval: bool = False,
        **fields,
    ):
        """A scheduled live sale with `lots` of the house's lots in catalogue order (`sale.lots.order_by(
        "sale_position")`): no end time, each waiting for its turn on the block."""
        from django.utils import timezone

        from auctions.models import Lot, Sale

        house = house or make_user(can_bid=False)
        sale = Sale.objects.create(
            house=house,
            title=fields.pop("title", "Autumn sale"),
            starts_at=timezone.now() + starts_in,
            requires_approval=requires_approval,
            **fields,
        )
        for position in range(1, lots + 1):
            make_lot(
                seller=house,
                title=f"Sale lot {position}",
                starting_price=starting_price,
                starts_in=starts_in,
                ends_in=None,
                status=Lot.Status.SCHEDULED,
                sale=sale,
                sale_position=position,
                live_state=Lot.LiveState.WAITING,
            )
        return sale

    return make


@pytest.fixture
def make_photo():
    def make(*, size: tuple[int, int] = (800, 600), image_format: str = "PNG", color=(180, 120, 60)) -> bytes:
        """An image file's bytes: a gradient over `color`, so it compresses as a photo does (not to nothing)."""
        import io

        from PIL import Image

        image = Image.new("RGB", size, color)
        image.putdata([((x * 7) % 256, (y * 5) % 256, color[2]) for y in range(size[1]) for x in range(size[0])])
        out = io.BytesIO()
        image.save(out, format=image_format)
        return out.getvalue()

    return make


@pytest.fixture
def seller(make_user):
    return make_user("seller", can_bid=False)


@pytest.fixture
def bidder(make_user):
    return make_user("alice")


@pytest.fixture
def lot(make_lot, seller):
    return make_lot(seller=seller)


# --- logging in ----------------------------------------------------------------------------------------------------
def login(user):
    """The tests' one login: a test Client holding a real session row, as /accounts/login/ leaves one."""
    from django.test import Client

    client = Client()
    client.force_login(user)
    return client


def cookie_header(who) -> str:
    """The Cookie header a logged-in browser sends: `who` is a user (logged in afresh) or a Client from login().
    Every socket helper takes this value as `cookie` (None: anonymous); a client that reconnects sends the same
    one again."""
    client = who if hasattr(who, "cookies") else login(who)
    return f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"


async def acookie_header(who) -> str:
    """cookie_header for coroutines (logging in writes the session row)."""
    from asgiref.sync import sync_to_async

    return await sync_to_async(cookie_header)(who)


# --- waiting on a condition -----------------------------------------------------------------------------------------
def wait_until(predicate, *, timeout: float = 10, interval: float = 0.01, failure="the condition never held"):
    """Call `predicate` until it returns something truthy, and return that; fail after `timeout` seconds with
    `failure` (a string, or a callable that describes what was seen). The one wait on a condition for sync code;
    bidding/tests/live.py's `until` is its twin for coroutines."""
    deadline = time.monotonic() + timeout
    while not (result := predicate()):
        if time.monotonic() > deadline:
            raise AssertionError(failure() if callable(failure) else failure)
        time.sleep(interval)
    return result


@pytest.fixture
def ws_headers():
    def headers(user=None, *, origin: str | None = ORIGIN) -> list[tuple[bytes, bytes]]:
        result = []
        if origin is not None:
            result.append((b"origin", origin.encode()))
        if user is not None:
            result.append((b"cookie", cookie_header(user).encode()))
        return result

    return headers


@pytest.fixture
async def open_socket(ws_headers):
    """Open a lot socket through the full ASGI stack (origin check, session auth, router); closed at teardown."""
    from asgiref.sync import sync_to_async
    from channels.testing import WebsocketCommunicator

    from config.asgi import application

    opened: list[WebsocketCommunicator] = []

    async def open_(lot_id: int, user=None, *, origin: str | None = ORIGIN, expect_snapshot=True):
        headers = await sync_to_async(ws_headers)(user, origin=origin)
        communicator = WebsocketCommunicator(application, f"/ws/auctions/{lot_id}/", headers=headers)
        opened.append(communicator)
        connected, code = await communicator.connect()
        communicator.refused_with = None if connected else code
        if connected and expect_snapshot:
            communicator.snapshot = await communicator.receive_json_from(timeout=5)
        return communicator

    yield open_
    for communicator in opened:
        await communicator.disconnect()


@pytest.fixture
async def open_path(ws_headers):
    """Open any socket path (ws/me/, ws/seller/) through the full ASGI stack; asserts the handshake; closed at
    teardown."""
    from asgiref.sync import sync_to_async
    from channels.testing import WebsocketCommunicator

    from config.asgi import application

    opened: list[WebsocketCommunicator] = []

    async def open_(path: str, user=None):
        headers = await sync_to_async(ws_headers)(user, origin=ORIGIN)
        communicator = WebsocketCommunicator(application, path, headers=headers)
        opened.append(communicator)
        connected, _ = await communicator.connect()
        assert connected
        return communicator

    yield open_
    for communicator in opened:
        await communicator.disconnect()


# --- a real Daphne over real sockets ------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def database_url(*, through=None) -> str:
    """The test database's URL; `through`: the same database through a local proxy with a `.port` (a TcpProxy that
    a test can cut, a PgBouncerProcess)."""
    db = settings.DATABASES["default"]  # pytest-django has already pointed NAME at the test database
    auth = db["USER"] + (f":{db['PASSWORD']}" if db.get("PASSWORD") else "")
    address = f"127.0.0.1:{through.port}" if through else f"{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}"
    return f"postgres://{auth}@{address}/{db['NAME']}"


class DaphneProcess:
    """A worker started with `python -m config.serve` (Daphne plus graceful shutdown) on the test database."""

    def __init__(
        self, tmp_path, name: str, env: dict[str, str], port: int | None = None, daphne_args: tuple[str, ...] = ()
    ) -> None:
        self.port = port or free_port()
        self.url = f"ws://127.0.0.1:{self.port}"
        self.http = f"http://127.0.0.1:{self.port}"
        self.log_path = tmp_path / f"{name}.log"
        self._log = self.log_path.open("wb")  # a file, not a pipe: a full pipe would stall the server mid-test
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "config.serve",
                "-b",
                "127.0.0.1",
                "-p",
                str(self.port),
                *daphne_args,
                "config.asgi:application",
            ],
            cwd=ROOT,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        try:
            wait_until(self._listening, timeout=30, interval=0.1)
        except AssertionError:
            self.proc.kill()
            raise RuntimeError(f"{name} did not start: " + self.log_path.read_text()[-2000:]) from None

    def _listening(self) -> bool:
        assert self.proc.poll() is None, "the worker exited"
        return reachable("127.0.0.1", self.port)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()


def service_env(**overrides: str) -> dict[str, str]:
    """The environment of a server or worker process started by a test: the test database, no pinned connections.

    An override that names an environment variable Gavel reads (config/settings/environment.py), or no setting at
    all, goes into the environment. One that names a constant (config/settings/conf.py, or one base.py derives)
    goes into a settings module written for that process, which imports the test settings and sets it: a string
    is read as the type the setting has."""
    from config.settings.environment import VARIABLES

    env = {**os.environ, "DATABASE_URL": database_url(), "DB_CONN_MAX_AGE": "0", "PYTHONUNBUFFERED": "1"}
    constants = {}
    for name, value in overrides.items():
        if name in VARIABLES or not hasattr(settings, name):
            env[name] = value
        else:
            constants[name] = _as_setting(name, value)
    if constants:
        env["DJANGO_SETTINGS_MODULE"] = _settings_module(env["DJANGO_SETTINGS_MODULE"], constants)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(_SETTINGS_DIR), env.get("PYTHONPATH")]))
    return env


_SETTINGS_DIR = Path(tempfile.mkdtemp(prefix="gavel-test-settings-"))
atexit.register(shutil.rmtree, _SETTINGS_DIR, ignore_errors=True)


def _as_setting(name: str, value):
    current = getattr(settings, name)
    if not isinstance(value, str) or isinstance(current, str):
        return value
    if isinstance(current, bool):
        return value.lower() in ("1", "true", "yes", "on")
    return type(current)(value)


def _settings_module(base: str, constants: dict) -> str:
    """A module `from <base> import *` plus `NAME = value` for each constant; its name."""
    text = f"from {base} import *  # noqa: F403\n" + "".join(f"{k} = {v!r}\n" for k, v in sorted(constants.items()))
    name = "settings_" + hashlib.sha256(text.encode()).hexdigest()[:16]
    (_SETTINGS_DIR / f"{name}.py").write_text(text)
    return name


@pytest.fixture
def start_daphne(transactional_db, tmp_path):
    """Start Daphne workers on the test database (each on its own port); all are stopped at teardown."""
    started: list[DaphneProcess] = []

    def start(
        name: str = "daphne", *, port: int | None = None, daphne_args: tuple[str, ...] = (), **env: str
    ) -> DaphneProcess:
        """`port`: restart a worker where a killed one was (its clients reconnect to the same address)."""
        server = DaphneProcess(
            tmp_path, f"{name}-{len(started)}", service_env(**env), port=port, daphne_args=daphne_args
        )
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def start_closer(transactional_db, tmp_path):
    """Start the closing worker (`manage.py close_lots`) as its own process on the test database, as production runs
    it; `env` overrides its environment (service_env). Each is stopped at teardown; `closer.log_path` is its log."""
    started: list[tuple[subprocess.Popen, object]] = []

    def start(*, interval: float = 0.2, **env: str) -> subprocess.Popen:
        log_path = tmp_path / f"closer-{len(started)}.log"
        log = log_path.open("wb")
        closer = subprocess.Popen(
            [sys.executable, "manage.py", "close_lots", "--interval", str(interval)],
            cwd=ROOT,
            env=service_env(**env),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        closer.log_path = log_path
        started.append((closer, log))
        return closer

    yield start
    for closer, log in started:
        if closer.poll() is None:
            closer.terminate()
            try:
                closer.wait(10)
            except subprocess.TimeoutExpired:
                closer.kill()
                closer.wait()
        log.close()


@pytest.fixture
def start_edge(tmp_path):
    """Start nginx with the shipped config in front of worker ports (config/tests/nginx_edge.py); stopped at
    teardown. `tls=True`: https with a certificate made for the test (`edge.certificate`)."""
    from config.tests.nginx_edge import start_edge as start

    started = []

    def run(upstream_ports: list[int], *, tls: bool = False, exempt: tuple[str, ...] = ()):
        directory = tmp_path / f"edge-{len(started)}"
        directory.mkdir()
        edge = start(directory, free_port(), upstream_ports, tls=tls, exempt=exempt)
        started.append(edge)
        return edge

    yield run
    for edge in started:
        edge.stop()


@pytest.fixture
def daphne_server(start_daphne):
    """One Daphne worker in a subprocess on the test database; its ws:// base URL."""
    return start_daphne().url


# --- Redis servers of a test's own ----------------------------------------------------------------------------------
class RedisProcess:
    """A redis-server (or, with `sentinel=True`, a Sentinel) on its own port, keeping nothing on disk."""

    def __init__(self, directory: Path, *lines: str, sentinel: bool = False) -> None:
        self.port = free_port()
        self.directory = directory / f"redis-{self.port}"
        self.directory.mkdir(parents=True)
        config = self.directory / "redis.conf"  # Sentinel rewrites its file, so each process has its own
        config.write_text(
            "\n".join(
                [f"port {self.port}", "bind 127.0.0.1", f"dir {self.directory}", 'save ""', "appendonly no", *lines]
            )
            + "\n"
        )
        self._command = ["redis-server", str(config), *(["--sentinel"] if sentinel else [])]
        self._log = (self.directory / "log").open("ab")
        self.start()

    def start(self) -> None:
        """Start it (again, after kill(): same port, same config file, empty unless it is a replica)."""
        self.proc = subprocess.Popen(self._command, stdout=self._log, stderr=subprocess.STDOUT)
        wait_until(self._listening, timeout=10, failure=f"redis-server on {self.port} did not start")

    def _listening(self) -> bool:
        assert self.proc.poll() is None, (self.directory / "log").read_text()[-2000:]
        return reachable("127.0.0.1", self.port)

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def client(self):
        import redis

        return redis.Redis(port=self.port, socket_timeout=2, decode_responses=True)

    def kill(self) -> None:
        """SIGKILL: no goodbye to clients, replicas or sentinels, as a crashed host."""
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def stop(self) -> None:
        self.kill()
        self._log.close()


@pytest.fixture
def start_redis(tmp_path):
    """`start_redis("replicaof 127.0.0.1 6379")`: a redis-server of the test's own with extra config lines;
    `sentinel=True` starts a Sentinel. All are killed at teardown."""
    started: list[RedisProcess] = []

    def start(*lines: str, sentinel: bool = False) -> RedisProcess:
        started.append(RedisProcess(tmp_path, *lines, sentinel=sentinel))
        return started[-1]

    yield start
    for server in started:
        server.stop()


# --- a PgBouncer of a test's own ---------------------------------------------------------------------------------
PGBOUNCER = shutil.which("pgbouncer") or ("/usr/sbin/pgbouncer" if os.access("/usr/sbin/pgbouncer", os.X_OK) else None)


class PgBouncerProcess:
    """Debian's pgbouncer in transaction mode on its own port, in front of the test's PostgreSQL server (trust
    auth, as the server here). It refuses to run as root: as root it runs as `postgres`, from a directory of its
    own that user may read (pytest's tmp_path is root's alone)."""

    def __init__(self, *, pool_size: int) -> None:
        db = settings.DATABASES["default"]
        self.pool_size = pool_size
        self.port = free_port()
        self.directory = Path(tempfile.mkdtemp(prefix="gavel-pgbouncer-"))
        (self.directory / "userlist.txt").write_text(f'"{db["USER"]}" ""\n')
        config = self.directory / "pgbouncer.ini"
        config.write_text(
            "\n".join(
                [
                    "[databases]",
                    f"* = host={db['HOST'] or '127.0.0.1'} port={db['PORT'] or 5432}",
                    "[pgbouncer]",
                    "listen_addr = 127.0.0.1",
                    f"listen_port = {self.port}",
                    "unix_socket_dir =",
                    "auth_type = trust",
                    f"auth_file = {self.directory / 'userlist.txt'}",
                    f"admin_users = {db['USER']}",
                    "pool_mode = transaction",
                    f"default_pool_size = {pool_size}",
                    "max_client_conn = 1000",
                    "ignore_startup_parameters = extra_float_digits,options",
                ]
            )
            + "\n"
        )
        as_user: list[str] = []
        if os.geteuid() == 0:
            as_user = ["-u", "postgres"]
            shutil.chown(self.directory, "postgres")
            for path in self.directory.iterdir():
                shutil.chown(path, "postgres")
        self._log = (self.directory / "stdout").open("ab")  # its log: a file, never a pipe that could fill
        self.proc = subprocess.Popen([PGBOUNCER, *as_user, str(config)], stdout=self._log, stderr=subprocess.STDOUT)
        wait_until(self._listening, timeout=10, failure=f"pgbouncer on {self.port} did not start")

    def _listening(self) -> bool:
        assert self.proc.poll() is None, self.log()
        return reachable("127.0.0.1", self.port)

    def log(self) -> str:
        return (self.directory / "stdout").read_text()[-2000:]

    @property
    def url(self) -> str:
        """DATABASE_URL for the test database through this PgBouncer."""
        return database_url(through=self)

    def show(self, what: str) -> list[dict]:
        """`SHOW <what>` on its admin console (POOLS, SERVERS, CLIENTS, STATS), one dict per row."""
        import psycopg
        from psycopg.rows import dict_row

        user = settings.DATABASES["default"]["USER"]
        # The console speaks the simple query protocol only: a client-side cursor sends it.
        with psycopg.connect(
            host="127.0.0.1",
            port=self.port,
            dbname="pgbouncer",
            user=user,
            autocommit=True,
            cursor_factory=psycopg.ClientCursor,
            row_factory=dict_row,
        ) as console:
            return console.execute(f"SHOW {what}").fetchall()

    def stop(self) -> None:
        """Its end closes its server connections, so pytest-django can drop the test database afterwards (it cannot
        while PgBouncer keeps an idle one to it)."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()
        shutil.rmtree(self.directory, ignore_errors=True)


@pytest.fixture
def start_pgbouncer(transactional_db):
    """`start_pgbouncer(pool_size=5)`: a PgBouncer of the test's own in front of the test database
    (`.url` is a DATABASE_URL through it). Skipped where pgbouncer is not installed (`make pgbouncer`), but never
    under CI=true. All are stopped at teardown."""
    if PGBOUNCER is None:
        if os.environ.get("CI") == "true":
            pytest.fail("pgbouncer is not installed (scripts/ensure-pgbouncer.sh); the PgBouncer test must run in CI")
        pytest.skip("pgbouncer is not installed: make pgbouncer")
    started: list[PgBouncerProcess] = []

    def start(*, pool_size: int = 5) -> PgBouncerProcess:
        started.append(PgBouncerProcess(pool_size=pool_size))
        return started[-1]

    yield start
    for bouncer in started:
        bouncer.stop()


# --- a network path a test can cut ----------------------------------------------------------------------------------
class TcpProxy:
    """Forwards 127.0.0.1:`port` to a server (PostgreSQL, say) until cut(): then every connection through it is
    dropped and new ones are refused, as when the server's host is unreachable; restore() listens again."""

    def __init__(self, target_port: int, target_host: str = "127.0.0.1") -> None:
        import threading

        self.port = free_port()
        self._target = (target_host, target_port)
        self._lock = threading.Lock()
        self._sockets: set[socket.socket] = set()
        self._listener: socket.socket | None = None
        self.restore()

    def restore(self) -> None:
        import threading

        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(128)
        listener.settimeout(0.1)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def _accept(self, listener: socket.socket) -> None:
        import threading

        while self._listener is listener:
            try:
                client, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            try:
                server = socket.create_connection(self._target, timeout=5)
            except OSError:
                client.close()
                continue
            client.settimeout(None)
            server.settimeout(None)
            with self._lock:
                self._sockets |= {client, server}
            for source, sink in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        for sock in (source, sink):
            self._drop(sock)

    def _drop(self, sock: socket.socket) -> None:
        with self._lock:
            self._sockets.discard(sock)
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        sock.close()

    def cut(self) -> None:
        listener, self._listener = self._listener, None
        if listener is not None:
            listener.close()
        with self._lock:
            sockets = list(self._sockets)
        for sock in sockets:
            self._drop(sock)


@pytest.fixture
def start_tcp_proxy():
    """`proxy = start_tcp_proxy(port)`: a TcpProxy to 127.0.0.1:port (default: PostgreSQL's); `proxy.cut()`,
    `proxy.restore()`. All are cut at teardown."""
    started: list[TcpProxy] = []

    def start(target_port: int | None = None) -> TcpProxy:
        """Default: to the test database's PostgreSQL."""
        db = settings.DATABASES["default"]
        started.append(TcpProxy(target_port or int(db["PORT"] or 5432), db["HOST"] or "127.0.0.1"))
        return started[-1]

    yield start
    for proxy in started:
        proxy.cut()


# --- a lot held by someone else ------------------------------------------------------------------------------------
class HeldRow:
    """A lot's row held FOR UPDATE by a connection of the test's own, as a slow decision elsewhere would."""

    def __init__(self, lot_id: int) -> None:
        import psycopg

        from auctions.models import Lot

        self._url = database_url()
        self.connection = psycopg.connect(self._url)
        self.connection.execute(f"SELECT 1 FROM {Lot._meta.db_table} WHERE id = %s FOR UPDATE", (lot_id,))

    def waiters(self) -> int:
        """Backends of the test database waiting for a lock (the row, here)."""
        import psycopg

        with psycopg.connect(self._url, autocommit=True) as watcher:
            return watcher.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
            ).fetchone()[0]

    def wait_for_waiters(self, count: int, timeout: float = 10) -> None:
        wait_until(
            lambda: self.waiters() >= count,
            timeout=timeout,
            interval=0.02,
            failure=f"fewer than {count} decisions queued behind the row lock",
        )

    def release(self) -> None:
        if not self.connection.closed:
            self.connection.commit()
            self.connection.close()


@pytest.fixture
def hold_lot_row():
    """`held = hold_lot_row(lot_id)`: decisions on the lot queue behind its row until `held.release()` (or the
    test's end); `held.wait_for_waiters(n)` returns once n of them wait; `held.connection` may change things
    meanwhile, in the holding transaction."""
    held_rows: list[HeldRow] = []

    def hold(lot_id: int) -> HeldRow:
        held_rows.append(HeldRow(lot_id))
        return held_rows[-1]

    yield hold
    for held in held_rows:
        held.release()


# --- the closing worker's clock --------------------------------------------------------------------------------------
def closing_time(ends_at):
    """The first moment the closing pass closes a lot that ends at `ends_at`: every bid received before an end is
    decided (or answered busy) within bidding.closing.decided_within() of it."""
    from bidding.closing import decided_within

    return ends_at + decided_within() + timedelta(milliseconds=1)


def long_ended(**fields) -> dict:
    """Fields for Lot.objects.update() that move a lot's end (and its start) back far enough for the closing pass
    to close it at once."""
    from django.utils import timezone

    from bidding.closing import decided_within

    ends_at = timezone.now() - decided_within() - timedelta(seconds=1)
    return {"starts_at": ends_at - timedelta(hours=1), "ends_at": ends_at, **fields}


# --- the audit every fault test ends with ---------------------------------------------------------------------------
def assert_lot_verifies(lot_id: int) -> None:
    """manage.py verify_lot: the bid log replayed from scratch reproduces the stored lot (call from sync code)."""
    from auctions.models import Lot
    from bidding.replay import verify_lot

    problems = verify_lot(Lot.objects.get(pk=lot_id))
    assert not problems, "verify_lot: " + "; ".join(problems)
