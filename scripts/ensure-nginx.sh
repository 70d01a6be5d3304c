#!/usr/bin/env bash
# config/tests/test_edge_proxy.py runs deploy/nginx.conf in a real nginx in front of a real worker. Install nginx
# when missing and we may (root with apt; Debian's policy-rc.d keeps it from starting as a service); otherwise fail
# loudly: the edge tests are part of make test.
set -eu
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "installing nginx-light (apt) for the edge tests"
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -q --no-install-recommends nginx-light >/dev/null \
    || { apt-get update -q >/dev/null && apt-get install -y -q --no-install-recommends nginx-light >/dev/null; }
fi
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || { echo "ERROR: nginx is missing: apt-get install nginx-light" >&2; exit 1; }
