#!/usr/bin/env bash
# Installs the Debian packages the TypeScript test suites need besides Node and PostgreSQL:
# chromium, the headless browser of the server's status page test (server/src/status-page.test.ts
# drives /usr/bin/chromium through playwright-core; no browser is ever downloaded). Idempotent:
# installed packages are only checked. Package lists are updated only when an install fails
# (missing or stale lists), then the install is tried once more.
#
# The native SDK's build and examples have their own: scripts/install-native-deps.sh.
set -euo pipefail

packages=(chromium)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-test-deps: already installed: ${packages[*]}"
  exit 0
fi
install() { DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; }
if ! install; then
  echo "install-test-deps: apt-get update"
  apt-get update -qq
  install
fi
echo "install-test-deps: installed ${missing[*]}"
