#!/usr/bin/env bash
# Make sure Debian's headless browser for the browser tests (tests/browser.py) is installed:
# /usr/bin/chromium and /usr/bin/chromedriver. Installs the `chromium` and `chromium-driver`
# packages with apt-get when either is missing (`apt-get update` first only when the install
# fails; sudo only when not root). Exits 1 — never skips — when they cannot be installed: CI must
# fail rather than run the suite without its browser tests.
set -eu

chromium=/usr/bin/chromium
driver=/usr/bin/chromedriver
packages="chromium chromium-driver"

if [ -x "$chromium" ] && [ -x "$driver" ]; then
  echo "ensure_browser: $chromium and $driver are installed"
  exit 0
fi

fail() {
  echo "ensure_browser: $1 — install Debian's $packages ($chromium, $driver)" >&2
  exit 1
}

if [ "$(id -u)" -eq 0 ]; then
  as_root=""
elif command -v sudo >/dev/null 2>&1; then
  as_root="sudo"
else
  fail "$chromium or $driver is missing, and this user is not root and has no sudo"
fi
command -v apt-get >/dev/null 2>&1 || fail "$chromium or $driver is missing and there is no apt-get"

log=$(mktemp)
trap 'rm -f "$log"' EXIT
apt() {  # env inside sudo: sudo's env_reset would drop DEBIAN_FRONTEND
  # shellcheck disable=SC2086  # $as_root is empty or "sudo"
  $as_root env DEBIAN_FRONTEND=noninteractive apt-get "$@" >>"$log" 2>&1
}
install_browser() {
  # shellcheck disable=SC2086  # the package names split on purpose
  apt install -y --no-install-recommends $packages
}

if install_browser; then
  how="installed"
elif apt update && install_browser; then
  how="installed (after apt-get update)"
else
  tail -n 20 "$log" >&2
  fail "apt-get could not install $packages (its last lines are above)"
fi

if [ ! -x "$chromium" ] || [ ! -x "$driver" ]; then
  fail "apt-get installed $packages but $chromium or $driver is still missing"
fi
echo "ensure_browser: $how $packages ($("$chromium" --version 2>/dev/null || echo "$chromium"))"
