#!/usr/bin/env bash
# Makes sure the browser the end-to-end tests drive (test/e2e, through playwright-core) is installed:
# Debian's Chromium at /usr/bin/chromium. Playwright's own browser download is not used: it fetches a
# build from outside the package registries, which CI and the developers' machines cannot reach.
# Idempotent: an installed Chromium that runs is left alone.
#
# How a missing Chromium is brought in:
#   1. root with apt: install Debian's `chromium` package (apt-get update first only when the
#      package lists do not know it, or when an install from stale lists fails);
#   2. otherwise: print what to run, and fail.
# Exits non-zero when Chromium is missing afterwards or does not run.
set -uo pipefail

CHROMIUM=/usr/bin/chromium

say() { printf 'browser: %s\n' "$*"; }
warn() { printf 'browser: %s\n' "$*" >&2; }
have() { command -v "$1" >/dev/null 2>&1; }
is_root() { [ "$(id -u)" -eq 0 ]; }
apt_usable() { is_root && have apt-get; }

# The version apt would install, empty when the package lists do not know the package.
candidate() {
  local version
  version="$(apt-cache policy chromium 2>/dev/null | awk '/Candidate:/ { print $2 }')"
  [ "$version" = '(none)' ] && version=
  printf '%s' "$version"
}

APT_UPDATED=
apt_update() {
  [ -n "$APT_UPDATED" ] && return 0
  say "apt-get update"
  apt-get update -qq || return 1
  APT_UPDATED=1
}

apt_install_chromium() {
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium
}

install_chromium() {
  if [ -z "$(candidate)" ]; then
    apt_update || { warn "apt-get update failed"; return 1; }
    if [ -z "$(candidate)" ]; then
      warn "apt knows no package 'chromium' (is this Debian?)"
      return 1
    fi
  fi
  say "installing Debian's chromium $(candidate)"
  if apt_install_chromium; then
    return 0
  fi
  # Lists from an earlier update may name .deb files the mirror no longer has: refresh once, retry.
  if [ -z "$APT_UPDATED" ]; then
    warn "apt-get install chromium failed; refreshing the package lists and trying again"
    apt_update && apt_install_chromium && return 0
  fi
  warn "apt-get install chromium failed"
  return 1
}

# Runs the binary, not only finds it: a half-installed package (missing libraries) fails here.
# Debian's launcher script prints a harmless shell warning on some machines (its /dev/shm size check);
# stderr is shown only when the check fails.
chromium_runs() {
  local errors
  errors="$(mktemp)"
  if VERSION="$("$CHROMIUM" --version 2>"$errors")" && [ -n "$VERSION" ]; then
    rm -f "$errors"
    return 0
  fi
  warn "$CHROMIUM --version failed:"
  cat "$errors" >&2
  rm -f "$errors"
  return 1
}

VERSION=
if [ ! -x "$CHROMIUM" ]; then
  if ! apt_usable; then
    warn "Chromium is not installed at $CHROMIUM, and installing it needs root and apt. Run:"
    warn "  sudo apt-get update && sudo apt-get install -y chromium"
    warn "  (or: sudo bash scripts/browser.sh)"
    exit 1
  fi
  install_chromium
  if [ ! -x "$CHROMIUM" ]; then
    warn "FAILED: Chromium is still missing at $CHROMIUM (see the messages above)"
    exit 1
  fi
fi

if ! chromium_runs; then
  warn "FAILED: Chromium at $CHROMIUM does not run; reinstall it: apt-get install --reinstall -y chromium"
  exit 1
fi
say "$VERSION at $CHROMIUM"
