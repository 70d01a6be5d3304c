#!/usr/bin/env bash
# `make loadtest`: a bounded Locust run against a stack started here on 127.0.0.1 only
# (PostgreSQL + Redis + WORKERS Daphne processes + the closing worker), results under loadtests/results/.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
WORKERS=${WORKERS:-2}
USERS=${USERS:-200}          # bounded: the run stops at RUN_TIME whatever happens
SPAWN_RATE=${SPAWN_RATE:-20}
RUN_TIME=${RUN_TIME:-2m}
LOTS=${LOTS:-20}
BIDDERS=${BIDDERS:-200}
SCENARIO=${SCENARIO:-lots}   # live: a live sale (--gavel-scenario live), seeded afresh each run
SALE_LOTS=${SALE_LOTS:-20}
RESULTS=loadtests/results
mkdir -p "$RESULTS"

export DATABASE_URL=${LOADTEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/gavel_loadtest}
export REDIS_URL=${LOADTEST_REDIS_URL:-redis://127.0.0.1:6379/3}
export DJANGO_SETTINGS_MODULE=config.settings.production
export SECRET_KEY=loadtest-only ALLOWED_HOSTS=127.0.0.1,localhost LOG_LEVEL=WARNING
export HTTPS=false  # plain http on one machine: cookies without the Secure flag, or the clients never send them back
# All Locust users connect from 127.0.0.1: lift the per-address socket cap meant for the open internet.
export WS_MAX_SOCKETS_PER_IP=${WS_MAX_SOCKETS_PER_IP:-1000000}

psql -h 127.0.0.1 -U postgres -tc "SELECT 1 FROM pg_database WHERE datname = 'gavel_loadtest'" | grep -q 1 \
  || psql -h 127.0.0.1 -U postgres -c "CREATE DATABASE gavel_loadtest" >/dev/null
$PY manage.py migrate -v0
SEED_SALE=()
[ "$SCENARIO" = live ] && SEED_SALE=(--sale-lots "$SALE_LOTS")
$PY manage.py seed_loadtest --lots "$LOTS" --bidders "$BIDDERS" --minutes 30 --password loadtest-pass --json \
  "${SEED_SALE[@]}" > "$RESULTS/fixture.json"

pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT
ports=()
for i in $(seq 1 "$WORKERS"); do
  port=$((8100 + i))
  $PY -m config.serve -b 127.0.0.1 -p "$port" config.asgi:application > "$RESULTS/daphne-$port.log" 2>&1 &
  pids+=($!); ports+=("$port")
done
$PY manage.py close_lots > "$RESULTS/close_lots.log" 2>&1 &
pids+=($!)
for port in "${ports[@]}"; do
  for _ in $(seq 1 100); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.1; done
done

ulimit -n "$(ulimit -Hn)"
# Options are Locust's own arguments (loadtests/locust_options.py); LOCUST_WORKERS=N runs a master and N worker
# processes (Locust's distributed mode), so load generation is not capped by one Python process.
LOCUST_ARGS=(-f loadtests/locustfile.py -H "http://127.0.0.1:${ports[0]}"
  --gavel-fixture "$RESULTS/fixture.json" --gavel-ws-ports "$(IFS=,; echo "${ports[*]}")" --gavel-same-clock
  --gavel-scenario "$SCENARIO")
LOCUST_WORKERS=${LOCUST_WORKERS:-0}
if [ "$LOCUST_WORKERS" -gt 0 ]; then
  for i in $(seq 1 "$LOCUST_WORKERS"); do
    $PY -m locust "${LOCUST_ARGS[@]}" --worker > "$RESULTS/locust-worker-$i.log" 2>&1 &
    pids+=($!)
  done
  LOCUST_ARGS+=(--master --expect-workers "$LOCUST_WORKERS")
fi
# LOCUST_UI=1: Locust's web UI on http://127.0.0.1:8089 instead of headless (the run starts at once, same bounds).
MODE=(--headless)
[ "${LOCUST_UI:-0}" = 1 ] && MODE=(--autostart --autoquit 5 --web-host 127.0.0.1 --web-port 8089)
$PY -m locust "${LOCUST_ARGS[@]}" "${MODE[@]}" -u "$USERS" -r "$SPAWN_RATE" -t "$RUN_TIME" \
  --csv "$RESULTS/locust" --csv-full-history --html "$RESULTS/report.html" --only-summary \
  ${LOCUST_EXTRA_ARGS:-}
echo "results: $RESULTS/locust_stats.csv, $RESULTS/locust_failures.csv, $RESULTS/report.html"
