#!/usr/bin/env bash
# The browser tests drive Debian's Chromium through Playwright (Playwright cannot download its own browser here).
# Install it when missing and we may (root with apt); otherwise fail loudly: the browser tests are part of make test.
set -eu
CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
[ -x "$CHROMIUM" ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "installing chromium (apt) for the browser tests"
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -q chromium >/dev/null || { apt-get update -q >/dev/null && apt-get install -y -q chromium >/dev/null; }
fi
[ -x "$CHROMIUM" ] || { echo "ERROR: $CHROMIUM is missing: apt-get install chromium (or set CHROMIUM=/path)" >&2; exit 1; }
