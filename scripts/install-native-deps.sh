#!/usr/bin/env bash
# Installs the Debian packages the native SDK's build, examples and tests need, group by group,
# and prints how long each group took. Idempotent: a group whose packages are all installed is
# only checked. Runs `apt-get update` at most once: when the package lists are missing, or when an
# install fails (stale lists).
#
# libnode itself (and the JS packages Debian's libnode loads) is handled by scripts/setup-libnode.sh.
#
#   bash scripts/install-native-deps.sh            # every group
#   bash scripts/install-native-deps.sh build qt   # only some groups
set -euo pipefail

declare -A groups=(
  # compilers and build tools; x11proto-dev for the <X11/X.h> compatibility test; patchelf gives the
  # libraries scripts/build_dist.sh ships their RUNPATH $ORIGIN (scripts/dist_runtime.sh)
  [build]="cmake g++ pkg-config x11proto-dev patchelf"
  # clang++: the C++ wrapper is also compiled by clang at C++11/14/17/20 (cpp_standard_clang_* tests)
  [clang]="clang"
  # glib_example.c: GMainLoop, g_timeout_add, g_unix_fd_add
  [glib]="libglib2.0-dev"
  # libsecret_key.c: the database's encryption key kept in the desktop's keyring (Secret Service)
  [secret]="libsecret-1-dev"
  # qt_example.cpp: Qt 6 Core (QCoreApplication, QSocketNotifier, QTimer)
  [qt]="qt6-base-dev"
  # juce_example.cpp: JUCE 7.0.5 modules and its CMake package. juce_core's only build dependency
  # beyond libc is libcurl (JUCE_USE_CURL; the example sets JUCE_USE_CURL=0 and does not need it),
  # which juce-modules-source pulls in itself (libcurl4-gnutls-dev), with the headers of the GUI
  # modules it also ships (GTK, WebKit, ALSA, ...): that is the bulk of this group's time.
  [juce]="juce-modules-source"
  # memory checks of the C tests beside V8; openssl makes c_api_tls's throwaway certificate authority
  [tools]="valgrind openssl"
  # example_qt_tasks: the Qt task list on a virtual display (Xvfb), its screenshot taken and checked with ImageMagick
  [display]="xvfb imagemagick"
)
order=(build clang glib secret qt juce tools display)
[ $# -gt 0 ] && order=("$@")

updated=0
apt_update() {
  [ "$updated" -eq 1 ] && return 0
  echo "install-native-deps: apt-get update"
  apt-get update -qq
  updated=1
}
lists_present() {
  [ -n "$(find /var/lib/apt/lists -maxdepth 1 -name '*_Packages*' -print -quit 2>/dev/null)" ]
}
apt_install() {
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }
total_start=$(now)
for group in "${order[@]}"; do
  if [ -z "${groups[$group]+x}" ]; then
    echo "install-native-deps: unknown group '$group' (known: ${!groups[*]})" >&2
    exit 2
  fi
  start=$(now)
  missing=()
  for p in ${groups[$group]}; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ ${#missing[@]} -eq 0 ]; then
    state="already installed"
  else
    lists_present || apt_update
    if ! apt_install "${missing[@]}"; then
      if [ "$updated" -eq 1 ]; then
        echo "install-native-deps: installing ${missing[*]} failed" >&2
        exit 1
      fi
      apt_update
      apt_install "${missing[@]}"
    fi
    state="installed ${missing[*]}"
  fi
  printf 'install-native-deps: %-5s %6s s  (%s)\n' "$group" "$(elapsed "$start")" "$state"
done
printf 'install-native-deps: total %6s s\n' "$(elapsed "$total_start")"
