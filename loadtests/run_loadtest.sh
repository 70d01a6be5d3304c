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
$PY manage.py seed_loadtest --lots "$LOTS" --bidders "$BIDDERS" --minutes 30 --password loadtest-pass --json \
  > "$RESULTS/fixture.json"

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

export GAVEL_FIXTURE="$RESULTS/fixture.json" GAVEL_WS_PORTS=$(IFS=,; echo "${ports[*]}")
ulimit -n "$(ulimit -Hn)"
$PY -m locust -f loadtests/locustfile.py --headless -u "$USERS" -r "$SPAWN_RATE" -t "$RUN_TIME" \
  -H "http://127.0.0.1:${ports[0]}" --csv "$RESULTS/locust" --csv-full-history --html "$RESULTS/report.html" \
  --only-summary --exit-code-on-error 0  # refusals such as too_low are auction outcomes, not a failed run
echo "results: $RESULTS/locust_stats.csv, $RESULTS/locust_failures.csv, $RESULTS/report.html"
