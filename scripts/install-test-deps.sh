#!/usr/bin/env bash
# Installs the Debian packages the TypeScript test suites need besides Node and PostgreSQL:
# chromium, the headless browser of the server's status page test (server/src/status-page.test.ts
# drives /usr/bin/chromium through playwright-core; no browser is ever downloaded). Idempotent
# (scripts/apt-install.sh).
#
# The native SDK's build and examples have their own: scripts/install-native-deps.sh.
set -euo pipefail

# shellcheck source=apt-install.sh
source "$(dirname "$0")/apt-install.sh"
apt_install_missing install-test-deps chromium
