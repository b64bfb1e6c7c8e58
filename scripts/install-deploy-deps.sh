#!/usr/bin/env bash
# Installs what the deployment tests need (faults/src/rolling-restart.test.ts,
# server/src/deploy/image.test.ts): Debian's haproxy, and podman with runc, mmdebstrap and
# uidmap to build and run the image from Debian's packages alone (no image registry is needed).
# Then sets podman up for this kind of machine: runc instead of crun (crun refuses the hybrid
# cgroup hierarchy and the rlimits here), cgroupfs instead of systemd, and no default ulimits.
# Idempotent: installed packages are only checked, the configuration is rewritten.
set -euo pipefail

packages=(haproxy podman runc mmdebstrap uidmap fuse-overlayfs)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  install() { DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; }
  if ! install; then
    echo "install-deploy-deps: apt-get update"
    apt-get update -qq
    install
  fi
  echo "install-deploy-deps: installed ${missing[*]}"
else
  echo "install-deploy-deps: already installed: ${packages[*]}"
fi

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
