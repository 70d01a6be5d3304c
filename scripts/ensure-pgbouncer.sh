#!/usr/bin/env bash
# config/tests/test_pgbouncer.py runs the app through a real PgBouncer (transaction mode) that the test starts on its
# own port. Install Debian's pgbouncer when missing and we may (root with apt; Debian's policy-rc.d keeps it from
# starting as a service); otherwise fail loudly: the PgBouncer test is part of make test.
set -eu
command -v pgbouncer >/dev/null || [ -x /usr/sbin/pgbouncer ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "installing pgbouncer (apt) for the connection-pooler test"
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -q --no-install-recommends pgbouncer >/dev/null \
    || { apt-get update -q >/dev/null && apt-get install -y -q --no-install-recommends pgbouncer >/dev/null; }
fi
command -v pgbouncer >/dev/null || [ -x /usr/sbin/pgbouncer ] || { echo "ERROR: pgbouncer is missing: apt-get install pgbouncer" >&2; exit 1; }
