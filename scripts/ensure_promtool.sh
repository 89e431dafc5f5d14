#!/usr/bin/env bash
# Make sure `promtool` (Prometheus' rule checker) is there for ops/tests/test_metrics.py, which
# runs `promtool check rules` and the rules' unit tests on ops/prometheus/alerts.yml. When it is
# on neither PATH nor in the virtualenv's bin/, takes it out of Debian's `prometheus` package
# without installing the server (`apt-get download`, `dpkg-deb -x`: no service, no root needed)
# into $VENV/bin/promtool. Where that is impossible (no apt-get) it says so and exits 0: the
# metric-name check of the rules runs anyway, only the promtool cases are skipped.
set -eu

venv_bin="${VENV:-.venv}/bin"
if command -v promtool >/dev/null 2>&1 || [ -x "$venv_bin/promtool" ]; then
  echo "ensure_promtool: promtool is installed"
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1 || ! command -v dpkg-deb >/dev/null 2>&1; then
  echo "ensure_promtool: no apt-get/dpkg-deb here; install promtool to run its checks" >&2
  exit 0
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
if ! (cd "$work" && apt-get download prometheus >/dev/null 2>&1); then
  if [ "$(id -u)" -eq 0 ]; then
    apt-get update >/dev/null 2>&1 || true
  elif command -v sudo >/dev/null 2>&1; then
    sudo apt-get update >/dev/null 2>&1 || true
  fi
  (cd "$work" && apt-get download prometheus >/dev/null 2>&1) || {
    echo "ensure_promtool: could not download Debian's prometheus package" >&2
    exit 1
  }
fi
dpkg-deb -x "$work"/prometheus_*.deb "$work/x"
mkdir -p "$venv_bin"
cp "$work/x/usr/bin/promtool" "$venv_bin/promtool"
echo "ensure_promtool: $("$venv_bin/promtool" --version 2>&1 | head -1) in $venv_bin"
