# Sourced by the install scripts: installs the Debian packages of a list that are not installed
# yet. Installed packages are only checked. Package lists are updated only when an install fails
# (missing or stale lists), then the install is tried once more.
# Usage: apt_install_missing TAG PACKAGE...   (TAG prefixes every line it prints)
apt_install_missing() {
  local tag="$1"
  shift
  local missing=() p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ ${#missing[@]} -eq 0 ]; then
    echo "$tag: already installed: $*"
    return 0
  fi
  if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; then
    echo "$tag: apt-get update"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
  echo "$tag: installed ${missing[*]}"
}
