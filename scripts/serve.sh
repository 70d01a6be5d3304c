#!/usr/bin/env bash
# `make serve`: a single-host production shape without Docker: WORKERS Daphne workers (python -m config.serve,
# graceful on SIGTERM) on consecutive ports from BASE_PORT, plus the closing worker. Put nginx in front
# (deploy/nginx.conf, one `server 127.0.0.1:PORT;` per worker). Ctrl-C or SIGTERM drains the workers and stops.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
WORKERS=${WORKERS:-2}
BASE_PORT=${BASE_PORT:-8001}
BIND=${BIND:-127.0.0.1}
# Production settings: SECRET_KEY and DATABASE_URL must be set (config/settings/production.py).
export DJANGO_SETTINGS_MODULE=${DJANGO_SETTINGS_MODULE:-config.settings.production}
# nginx on this host forwards the client's address; nobody else reaches the workers' loopback ports.
export TRUSTED_PROXIES=${TRUSTED_PROXIES:-127.0.0.1,::1}

if [ "$WORKERS" -gt 1 ] && [ -z "${REDIS_URL:-}" ]; then
  echo "ERROR: several workers need REDIS_URL (the channel layer, lock and fan-out are shared through Redis)" >&2
  exit 2
fi
$PY manage.py migrate --noinput -v0
$PY manage.py collectstatic --noinput -v0

pids=()
stop() {
  trap - TERM INT
  echo "draining ${#pids[@]} processes" >&2
  kill -TERM "${pids[@]}" 2>/dev/null || true
  wait
}
trap stop TERM INT
for i in $(seq 0 $((WORKERS - 1))); do
  port=$((BASE_PORT + i))
  # --websocket_timeout is the total lifetime of a socket: WS_MAX_LIFETIME_SECONDS (config/settings/conf.py), which
  # the channel layer's group expiry must not undercut (check gavel.E002).
  $PY -m config.serve -b "$BIND" -p "$port" --websocket_timeout 86400 \
    --application-close-timeout 15 config.asgi:application &
  pids+=($!)
  echo "worker $i on $BIND:$port (pid $!)" >&2
done
if [ "${CLOSE_LOTS_IN_WEB_PROCESS:-}" != "true" ]; then
  $PY manage.py close_lots &
  pids+=($!)
  echo "closing worker (pid $!)" >&2
fi
wait
