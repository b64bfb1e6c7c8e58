#!/usr/bin/env bash
# Installs what the deployment tests need (faults/src/rolling-restart.test.ts,
# server/src/deploy/image.test.ts): Debian's haproxy, and podman with runc, mmdebstrap and
# uidmap to build and run the image from Debian's packages alone (no image registry is needed).
# Then sets podman up for this kind of machine: runc instead of crun (crun refuses the hybrid
# cgroup hierarchy and the rlimits here), cgroupfs instead of systemd, and no default ulimits.
# Idempotent: installed packages are only checked, the configuration is rewritten.
set -euo pipefail

# shellcheck source=apt-install.sh
source "$(dirname "$0")/apt-install.sh"
apt_install_missing install-deploy-deps haproxy podman runc mmdebstrap uidmap fuse-overlayfs

# Only root's podman is configured here (CI and the tests run as root); a user's own
# ~/.config/containers/containers.conf still wins for that user.
if [ "$(id -u)" -eq 0 ]; then
  mkdir -p /etc/containers
  cat >/etc/containers/containers.conf <<'CONF'
# Written by json-sync's scripts/install-deploy-deps.sh.
[containers]
default_ulimits = []

[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
CONF
  echo "install-deploy-deps: /etc/containers/containers.conf set (runc, cgroupfs, no default ulimits)"
fi
