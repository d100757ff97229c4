#!/usr/bin/env bash
# The whole test suite on a fresh Linux machine with Node >= 20.19:
#   Debian packages (the real Mender client and mender-artifact), npm packages,
#   lint, build, the oclif manifest check, then unit, integration and real-client tests.
# CI (.ci/run) calls exactly this script.
set -euo pipefail
cd "$(dirname "$0")/.."

DEBIAN_PACKAGES=(mender-client mender-artifact openssl util-linux nginx wrk)
missing=()
command -v mender >/dev/null 2>&1 || missing+=(mender-client)
command -v mender-artifact >/dev/null 2>&1 || missing+=(mender-artifact)
command -v openssl >/dev/null 2>&1 || missing+=(openssl)
command -v unshare >/dev/null 2>&1 || missing+=(util-linux)
command -v nginx >/dev/null 2>&1 || missing+=(nginx)
command -v wrk >/dev/null 2>&1 || missing+=(wrk)
if [ ${#missing[@]} -gt 0 ]; then
  echo "==> installing Debian packages: ${DEBIAN_PACKAGES[*]}"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y "${DEBIAN_PACKAGES[@]}"
fi

echo "==> npm ci"
npm ci --no-audit --no-fund
echo "==> npm audit (production dependencies)"
./scripts/audit.sh

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
npm test
