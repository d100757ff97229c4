#!/usr/bin/env bash
# The whole test suite on a fresh Linux machine with Node >= 20.19:
#   Debian packages (the Mender 3.4 client, mender-connect, mender-artifact, dbus, chromium), the Mender 5.1
#   client (built from ../shared when that folder exists), npm packages, lint, build, the oclif
#   manifest check, then every test lane: unit, integration, e2e (real 3.4 and 5.1 clients), load.
# CI (.ci/run) calls exactly this script.
set -euo pipefail
cd "$(dirname "$0")/.."

DEBIAN_PACKAGES=(mender-client mender-connect mender-artifact dbus openssl util-linux nginx wrk keepalived iproute2 curl wget chromium)
missing=()
command -v mender >/dev/null 2>&1 || missing+=(mender-client)
command -v mender-connect >/dev/null 2>&1 || missing+=(mender-connect)
command -v mender-artifact >/dev/null 2>&1 || missing+=(mender-artifact)
command -v dbus-daemon >/dev/null 2>&1 || missing+=(dbus)
command -v openssl >/dev/null 2>&1 || missing+=(openssl)
command -v unshare >/dev/null 2>&1 || missing+=(util-linux)
command -v nginx >/dev/null 2>&1 || missing+=(nginx)
command -v wrk >/dev/null 2>&1 || missing+=(wrk)
command -v keepalived >/dev/null 2>&1 || missing+=(keepalived)
command -v ip >/dev/null 2>&1 || missing+=(iproute2)
command -v curl >/dev/null 2>&1 || missing+=(curl)
command -v wget >/dev/null 2>&1 || missing+=(wget)
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
if [ ${#missing[@]} -gt 0 ]; then
  echo "==> installing Debian packages: ${DEBIAN_PACKAGES[*]}"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y "${DEBIAN_PACKAGES[@]}"
fi

# The current client (5.1, C++) is not packaged: build it from the source in ../shared (about
# 6 minutes on 2 cores, once; the build script returns at once when it is already installed).
MENDER5_PREFIX="${MGW_MENDER5_PREFIX:-/opt/mender-client-5}"
MENDER5_BUILD="../shared/mender-client-5/build.sh"
if [ -f "$MENDER5_BUILD" ]; then
  if [ "$(id -u)" -eq 0 ] || [ -w "$(dirname "$MENDER5_PREFIX")" ]; then
    echo "==> Mender 5.1 client in $MENDER5_PREFIX"
    bash "$MENDER5_BUILD" "$MENDER5_PREFIX"
  else
    echo "==> cannot write $MENDER5_PREFIX: the Mender 5.1 tests will be skipped (set MGW_MENDER5_PREFIX)"
  fi
fi

echo "==> npm ci"
npm ci --no-audit --no-fund
echo "==> npm audit (production dependencies)"
# The gate's verdict is repeated at the very end, so "not run" cannot hide in the middle of the log.
AUDIT_STATUS="$(mktemp)"
summary() {
  echo "==> summary"
  cat "$AUDIT_STATUS" 2>/dev/null || echo "audit: NOT RUN"
  rm -f "$AUDIT_STATUS"
}
trap summary EXIT
MGW_AUDIT_STATUS="$AUDIT_STATUS" ./scripts/audit.sh

echo "==> lint"
npm run lint

echo "==> build and check that oclif.manifest.json is current"
npm run build
npm run --silent manifest >/dev/null
if ! git diff --quiet -- oclif.manifest.json 2>/dev/null; then
  echo "oclif.manifest.json is stale: run 'npm run build && npm run manifest' and commit it" >&2
  git --no-pager diff --stat -- oclif.manifest.json >&2
  exit 1
fi

echo "==> tests"
# Real-client tests must run here, not skip: a missing mender binary is a failure.
if [ "$(id -u)" -eq 0 ]; then export MGW_REQUIRE_MENDER_CLIENT=1 MGW_REQUIRE_PRIVILEGED=1; fi
npm run test:all
