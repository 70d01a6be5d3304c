"""docker-compose.yml and the nginx config, validated here since Docker cannot run on these machines."""

from __future__ import annotations

import re
import shlex

import pytest
import yaml

from conftest import ROOT

COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]
NGINX = (ROOT / "deploy" / "nginx.conf").read_text()

pytestmark = pytest.mark.pure


def _block(config: str, opener: str) -> str:
    """The text of the `{ ... }` block that follows `opener` (nested braces counted)."""
    start = config.index(opener)
    depth, i = 0, config.index("{", start)
    for j in range(i, len(config)):
        depth += {"{": 1, "}": -1}.get(config[j], 0)
        if depth == 0:
            return config[i : j + 1]
    raise AssertionError(f"unclosed block after {opener!r}")


def test_compose_has_the_production_services():
    assert {"postgres", "pgbouncer", "redis", "migrate", "web", "closer", "nginx"} <= set(SERVICES)


def test_every_app_process_reaches_postgresql_through_pgbouncer_in_transaction_mode():
    import environ

    bouncer = SERVICES["pgbouncer"]
    assert "profiles" not in bouncer, "PgBouncer runs in every deployment"
    pool = bouncer["environment"]
    assert pool["POOL_MODE"] == "transaction"
    assert 0 < int(pool["DEFAULT_POOL_SIZE"]) < 100, "below PostgreSQL's max_connections (100)"
    assert int(pool["MAX_CLIENT_CONN"]) >= 1000
    server = environ.Env.db_url_config(pool["DATABASE_URL"])
    assert (server["HOST"], server["PORT"]) == ("postgres", 5432)
    assert bouncer["depends_on"]["postgres"]["condition"] == "service_healthy"
    for name in ("migrate", "web", "closer"):
        env = SERVICES[name]["environment"]
        app = environ.Env.db_url_config(env["DATABASE_URL"])
        assert (app["HOST"], app["PORT"]) == ("pgbouncer", int(pool["LISTEN_PORT"])), name
        assert (app["NAME"], app["USER"]) == (server["NAME"], server["USER"]), name
        # Transaction mode: a server-side cursor may be fetched from on another server connection.
        assert env["DISABLE_SERVER_SIDE_CURSORS"] == "true" and env["DB_CONN_MAX_AGE"] == "0", name
    # The workers wait for the migration, which waits for PgBouncer.
    assert SERVICES["migrate"]["depends_on"]["pgbouncer"]["condition"] == "service_healthy"


def test_every_long_running_service_has_a_health_check_or_waits_for_one():
    for name in ("postgres", "pgbouncer", "redis", "web", "nginx"):
        check = SERVICES[name]["healthcheck"]
        assert check["test"] and check["interval"], name
    assert "/readyz" in " ".join(SERVICES["web"]["healthcheck"]["test"])
    assert SERVICES["nginx"]["depends_on"]["web"]["condition"] == "service_healthy"
    assert SERVICES["web"]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert SERVICES["closer"]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"


def test_workers_scale_behind_nginx_and_share_redis_and_postgres():
    web = SERVICES["web"]
    assert "ports" not in web, "workers must not publish host ports, or --scale web=N collides"
    assert web["expose"] == ["8000"]
    assert SERVICES["nginx"]["ports"] == ["80:80"]
    env = web["environment"]
    assert env["REDIS_URL"].startswith("${REDIS_URL:-redis://redis:") and env["DATABASE_URL"].startswith("postgres://")
    assert env["DJANGO_SETTINGS_MODULE"] == "config.settings.production" and "SECRET_KEY" in env
    assert "DEBUG" not in env, "DEBUG is off unless asked"
    assert SERVICES["closer"]["command"][:3] == ["python", "manage.py", "close_lots"]


def test_workers_shut_down_gracefully():
    web = SERVICES["web"]
    command = web["command"]
    assert command[:3] == ["python", "-m", "config.serve"]
    assert "--proxy-headers" not in command, "Daphne would believe the leftmost X-Forwarded-For, the client's own"
    from django.conf import settings

    lifetime = int(command[command.index("--websocket_timeout") + 1])
    assert 3600 <= lifetime <= settings.WS_MAX_LIFETIME_SECONDS, "group membership must outlive sockets"
    grace = int(re.fullmatch(r"(\d+)s", web["stop_grace_period"]).group(1))

    assert grace > settings.DRAIN_TIMEOUT_SECONDS


def test_nginx_mounts_the_config_this_repository_holds():
    mounts = SERVICES["nginx"]["volumes"]
    assert "./deploy/nginx.conf:/etc/nginx/conf.d/default.conf:ro" in mounts
    assert "./deploy/limits-exempt.conf:/etc/nginx/gavel-limits-exempt.conf:ro" in mounts
    assert any(m.startswith("static:/srv/static") for m in mounts)
    assert "static:/app/staticfiles" in SERVICES["web"]["volumes"]


def test_nginx_upgrades_websockets_and_keeps_them_open():
    assert re.search(r"map \$http_upgrade \$connection_upgrade \{\s*default upgrade;\s*''\s*close;\s*\}", NGINX)
    ws = _block(NGINX, "location /ws/")
    for directive in (
        "proxy_http_version 1.1;",
        "proxy_set_header Upgrade $http_upgrade;",
        "proxy_set_header Connection $connection_upgrade;",
        "proxy_set_header Host $http_host;",
        "proxy_pass http://$ws_upstream;",
    ):
        assert directive in ws, directive
    timeout = int(re.search(r"proxy_read_timeout (\d+)s;", ws).group(1))
    assert timeout >= 3600, "idle bid sockets would be cut by the proxy"
    assert "server web:8000" in _block(NGINX, "upstream gavel_web")


def test_nginx_sends_every_socket_of_one_lot_to_one_worker():
    """A lot's bids must queue in one process to be decided in groups (bidding/group_commit.py)."""
    routes = dict(re.findall(r"^\s*(\S+)\s+(\w+);", _block(NGINX, "map $uri $ws_upstream"), re.M))
    assert routes == {"~^/ws/auctions/": "gavel_lots", "default": "gavel_web"}
    lots = _block(NGINX, "upstream gavel_lots")
    assert "hash $uri consistent;" in lots and "server web:8000" in lots


def test_nginx_overwrites_the_forwarded_address_the_client_wrote():
    """The workers take the rightmost untrusted X-Forwarded-For address (config/client_address.py): nginx must
    replace the header, since appending keeps whatever the client put there for a proxy further out to trust."""
    assert not re.search(r"^[^#]*\$proxy_add_x_forwarded_for", NGINX, re.M)
    for location in ("location /ws/", "location / "):
        block = _block(NGINX, location)
        assert "proxy_set_header X-Forwarded-For $remote_addr;" in block, location
        assert "proxy_set_header X-Forwarded-Proto $scheme;" in block, location
    assert SERVICES["web"]["environment"]["TRUSTED_PROXIES"], "the workers would not believe nginx"
    dockerfile_cmd = re.search(r"^CMD (.+)$", (ROOT / "Dockerfile").read_text(), re.M).group(1)
    assert "--proxy-headers" not in dockerfile_cmd + (ROOT / "scripts" / "serve.sh").read_text()


def _zones(kind: str) -> dict[str, str]:
    """`limit_req_zone` / `limit_conn_zone` declarations: zone name → key (each keyed by the client address)."""
    pattern = rf"^{kind}\s+(\S+)\s+zone=(\w+):\d+m(?:\s+rate=(\d+)r/s)?;"
    return {name: (key, int(rate) if rate else None) for key, name, rate in re.findall(pattern, NGINX, re.M)}


def test_nginx_limits_handshakes_requests_and_open_connections_per_address():
    from django.conf import settings

    requests = _zones("limit_req_zone")
    connections = _zones("limit_conn_zone")
    assert all(key == "$gavel_client" for key, _ in [*requests.values(), *connections.values()])
    # the key is the client's address, or nothing (never counted) for the addresses the operator exempts
    assert re.search(r"map \$gavel_limits_exempt \$gavel_client \{\s*1\s+\"\";\s*default \$binary_remote_addr;", NGINX)
    assert "include /etc/nginx/gavel-limits-exempt.conf;" in _block(NGINX, "geo $gavel_limits_exempt")
    assert re.search(r"^limit_req_status 429;", NGINX, re.M) and re.search(r"^limit_conn_status 429;", NGINX, re.M)

    handshake = re.search(r"limit_req zone=(\w+) burst=(\d+) nodelay;", _block(NGINX, "location /ws/"))
    http = re.search(r"limit_req zone=(\w+) burst=(\d+) nodelay;", _block(NGINX, "location / "))
    assert handshake and http, "every proxied location limits new requests per address"
    assert handshake[1] in requests and http[1] in requests and handshake[1] != http[1]
    assert requests[handshake[1]][1] < requests[http[1]][1], "handshakes are costlier than requests: a lower rate"

    server = _block(NGINX, "server {")
    held = re.search(r"^    limit_conn (\w+) (\d+);", server, re.M)
    assert held and held[1] in connections, "the connections one address holds open are capped server-wide"
    assert int(held[2]) == settings.WS_MAX_SOCKETS_PER_IP, "the edge and the workers cap sockets per address alike"


def test_nginx_serves_static_and_hides_metrics():
    assert "alias /srv/static/;" in _block(NGINX, "location /static/")
    assert "return 404;" in _block(NGINX, "location = /metrics")


def test_nginx_serves_the_photos_every_web_replica_writes_to_one_volume():
    from django.conf import settings

    media = _block(NGINX, f"location {settings.MEDIA_URL}")
    assert "alias /srv/media/;" in media and "add_header X-Content-Type-Options nosniff;" in media
    # production's MEDIA_ROOT is BASE_DIR / "media": /app/media in the image (WORKDIR /app)
    assert re.search(r'^MEDIA_ROOT = BASE_DIR / "media"$', (ROOT / "config/settings/base.py").read_text(), re.M)
    assert re.search(r"^WORKDIR /app$", (ROOT / "Dockerfile").read_text(), re.M)
    assert "media:/app/media" in SERVICES["web"]["volumes"] and "media" in COMPOSE["volumes"]
    assert "media:/srv/media:ro" in SERVICES["nginx"]["volumes"], "nginx reads the same volume, never writes it"


def _megabytes(block: str) -> int:
    return int(re.search(r"client_max_body_size (\d+)m;", block).group(1)) * 1024 * 1024


def test_nginx_accepts_a_lots_photos_on_the_lot_api_and_1_mb_elsewhere():
    from django.conf import settings

    assert _megabytes(_block(NGINX, "server {").split("location", 1)[0]) == 1024 * 1024
    upload = _block(NGINX, "location /api/lots/")
    assert _megabytes(upload) >= settings.PHOTOS_PER_LOT_MAX * settings.PHOTO_MAX_BYTES + 1024 * 1024
    assert "proxy_pass http://gavel_web;" in upload and "proxy_set_header X-Forwarded-For $remote_addr;" in upload
    assert "limit_req zone=gavel_requests" in upload, "uploads count against the per-address request limit too"


def test_nginx_config_braces_balance_and_statements_end():
    assert NGINX.count("{") == NGINX.count("}")
    for line in NGINX.splitlines():
        text = line.split("#", 1)[0].strip()
        if text and not text.endswith(("{", "}", ";")):
            raise AssertionError(f"unterminated nginx statement: {line!r}")


def test_dockerfile_runs_the_graceful_worker_with_production_settings():
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert re.search(r"^ENV DJANGO_SETTINGS_MODULE=config\.settings\.production$", dockerfile, re.M)
    cmd = re.search(r"^CMD (.+)$", dockerfile, re.M).group(1)
    assert shlex.split(cmd.replace(",", " ").strip("[]"))[:3] == ["python", "-m", "config.serve"]


def test_nginx_drops_handshakes_and_requests_that_never_complete():
    # Measured: Daphne itself keeps a half-sent upgrade request open (its HTTP factory timeout is 12 h).
    server = _block(NGINX, "server {")
    assert int(re.search(r"client_header_timeout (\d+)s;", server).group(1)) <= 15
    assert int(re.search(r"client_body_timeout (\d+)s;", server).group(1)) <= 15


def test_the_ha_profile_runs_a_replica_and_three_sentinels_that_the_documented_url_names():
    from accounts.redis_connections import redis_target

    sentinels = [name for name in SERVICES if name.startswith("sentinel-")]
    assert len(sentinels) == 3
    for name in [*sentinels, "redis-replica"]:
        assert SERVICES[name]["profiles"] == ["ha"], f"{name} runs only with --profile ha"
    replica = SERVICES["redis-replica"]["command"]
    assert replica[replica.index("--replicaof") + 1 : replica.index("--replicaof") + 3] == ["redis", "6379"]
    script = " ".join(SERVICES["sentinel-1"]["command"])
    monitor = re.search(r"sentinel monitor (\S+) (\S+) (\d+) (\d+)", script)
    name, host, port, quorum = monitor.groups()
    assert (host, port) == ("redis", "6379")
    assert 1 < int(quorum) <= len(sentinels), "a majority of the sentinels must agree to fail over"
    assert script.rstrip().endswith("--sentinel")
    documented = re.search(r"redis\+sentinel://\S+", (ROOT / "docker-compose.yml").read_text()).group(0)
    target = redis_target(documented)
    assert target.master_name == name
    assert {host for host, _ in target.sentinels} == set(sentinels)
    assert {port for _, port in target.sentinels} == {26379}
