#!/usr/bin/env bash
# ctest dist_portable_<suite>: the binary package works on a system that has none of libnode's
# libraries or JavaScript: a minimal Debian root (mmdebstrap --variant=minbase, plus only gcc, g++,
# make and cmake), where it is unpacked, consumed and run through chroot against the fixture's server
# outside (the chroot shares the network).
#   1. The root: made once per suite, mmdebstrap options and mirror, kept as a tarball in $SYNC_ROOT_CACHE
#      (default /var/cache/sync-client-test), extracted into a fresh directory on every run.
#   2. The package (dist/, through ensure_dist.sh) unpacked into the root's /opt.
#   3. Built inside the root: the seed's C example (snippet 14, the original README's event callback
#      example, through its harness) with the seed's own gcc line (snippet 19), and a find_package
#      consumer (native/tests/portable/). cmake and the compilers pull in libuv, OpenSSL and, on some
#      suites, ICU: once both are built, every library libnode needs is deleted from the root (and
#      /usr/share/nodejs, node), and the test checks they are gone.
#   4. Both programs run in the root, with no LD_LIBRARY_PATH, against the server; ldd inside the
#      root shows every library libnode needs coming from the package.
#   5. c_api_tls, built in the root too, run there by tls-fixture.mjs against a wss server whose CA it
#      trusts through tls_ca_file alone (the root has no /usr/lib/ssl, no CA bundle).
# Skips (ctest SKIP_RETURN_CODE 77, saying why) only where this machine cannot make a chroot: not
# root, no mmdebstrap (scripts/install-deploy-deps.sh), no private mount namespace, or the mirror
# does not serve SUITE.
# usage: dist_portable_test.sh SUITE SNIPPETS_DIR   (environment: SYNC_TEST_ENV = the fixture's env file;
#        DEBIAN_MIRROR, default http://deb.debian.org/debian)
set -euo pipefail
suite=${1:?usage: dist_portable_test.sh SUITE SNIPPETS_DIR}
snippets=$(cd "${2:?usage: dist_portable_test.sh SUITE SNIPPETS_DIR}" && pwd)
say() { echo "dist_portable($suite): $*"; }
fail() { echo "dist_portable($suite): FAIL: $*" >&2; exit 1; }
skip() { echo "dist_portable($suite): SKIPPED: $*"; exit 77; }
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
envfile="${SYNC_TEST_ENV:?SYNC_TEST_ENV is not set (run through ctest)}"
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
t0=$(date +%s)

[ "$(id -u)" = 0 ] || skip "chroot needs root"
command -v mmdebstrap >/dev/null || skip "no mmdebstrap (bash scripts/install-deploy-deps.sh installs it)"
unshare -m --propagation private true 2>/dev/null || skip "unshare -m is not permitted (the root's /proc and /dev are mounted in one)"

# ---- 1. the root -------------------------------------------------------------------------------------
packages="cmake,g++,gcc,libc6-dev,make"
# Documentation, manual pages and translations are not needed and are a good part of dpkg's unpacking.
options=(--variant=minbase --mode=root --quiet --include="$packages" --aptopt='Acquire::Languages "none"'
  --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/locale/*'
  --dpkgopt='path-exclude=/usr/share/info/*')
cache=${SYNC_ROOT_CACHE:-/var/cache/sync-client-test}
key=$(printf '%s %s %s' "$suite" "${options[*]}" "$mirror" | sha256sum | cut -c1-12)
rootfs="$cache/root-$suite-$key.tar"
if [ ! -f "$rootfs" ]; then
  if command -v curl >/dev/null && ! curl -fsI --max-time 20 "$mirror/dists/$suite/InRelease" >/dev/null; then
    skip "$mirror does not serve $suite"
  fi
  mkdir -p "$cache"
  # Roots of this suite made with other options are stale: half a gigabyte each.
  find "$cache" -maxdepth 1 -name "root-$suite-*.tar" -delete
  say "making $rootfs (mmdebstrap ${options[*]})"
  # mmdebstrap picks the output format from the name: the partial file must end in .tar too.
  part="$cache/partial-$$-$(basename "$rootfs")"
  timeout 420 mmdebstrap "${options[@]}" "$suite" "$part" "$mirror" ||
    { rm -rf "$part"; fail "mmdebstrap $suite failed"; }
  mv "$part" "$rootfs"
  say "root made in $(($(date +%s) - t0)) s"
fi
work=$(mktemp -d "${TMPDIR:-/var/tmp}/sync-portable.XXXXXX")
# The root's /proc and /dev are mounted only inside in_root's namespace; never delete through a mount.
cleanup() { if grep -qF " $work/" /proc/self/mounts; then echo "dist_portable: $work still has mounts; left in place" >&2; else rm -rf "$work"; fi; }
trap cleanup EXIT
r="$work/root"
mkdir "$r"
tar -xf "$rootfs" -C "$r"
chroot "$r" /bin/true || skip "chroot into $r is not permitted here"

# ---- 2. the package ----------------------------------------------------------------------------------
tarball=$(bash "$root/native/tests/ensure_dist.sh" 480) || fail "dist/ could not be built"
tar -xzf "$tarball" -C "$r/opt"
pkg=/opt/$(basename "$tarball" -linux-x64.tar.gz)
[ -d "$r$pkg/lib" ] || fail "the tarball did not unpack into $pkg"

# ---- 3. build inside the root --------------------------------------------------------------------------
# The chroot's /proc (Node reads /proc/self, V8 /proc/cpuinfo) and /dev, in a private mount namespace,
# so they go away with it.
in_root() { # in_root SHELL_COMMAND: run as sh -c in the root, from /work, with a plain environment
  unshare -m --propagation private sh -c 'mount -t proc proc "$1/proc" && mount --rbind /dev "$1/dev" &&
    exec chroot "$1" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/work sh -c "cd /work && $2"' sh "$r" "$1"
}
mkdir -p "$r/work/seed" "$r/work/consumer"
cp "$snippets/14.c" "$here/seed/snippet_14.c" "$here/seed/seed_harness.h" "$here/run_example.sh" "$r/work/seed/"
printf '#define SEED_SNIPPET "/work/seed/14.c"\n#include "/work/seed/snippet_14.c"\n' >"$r/work/seed/your_code.c"
ln -s "$pkg" "$r/work/seed/dist"
cp "$here/portable/CMakeLists.txt" "$here/portable/app.c" "$r/work/consumer/"
cp "$envfile" "$r/work/fixture.env"
gcc_line=$(grep '^gcc ' "$snippets/19.sh" | sed 's/ -framework Security//')
[ -n "$gcc_line" ] || fail "no gcc line in 19.sh"
# The seed's line links with -L only; seed_dist runs its programs with LD_LIBRARY_PATH. Here an rpath
# on the program finds libsync_client alone, so that everything after it must come through $ORIGIN.
say "building snippet 14 with: $gcc_line"
in_root "cd seed && $gcc_line -Wl,-rpath,$pkg/lib" >"$work/gcc.log" 2>&1 || { cat "$work/gcc.log"; fail "snippet 14 did not build in the root"; }
say "building the find_package consumer"
in_root "cmake -S consumer -B consumer/build -DCMAKE_PREFIX_PATH=$pkg && cmake --build consumer/build" >"$work/cmake.log" 2>&1 ||
  { cat "$work/cmake.log"; fail "the find_package consumer did not build in the root"; }
say "building c_api_tls (wss with a private CA through tls_ca_file)"
mkdir -p "$r/work/tls"
cp "$here/c_api_tls.c" "$here/harness.c" "$here/harness.h" "$here/test_credentials.h" "$r/work/tls/"
in_root "cd tls && gcc -std=gnu99 -Wall -I$pkg/include c_api_tls.c harness.c -L$pkg/lib -lsync_client -Wl,-rpath,$pkg/lib -o c_api_tls" \
  >"$work/tls.log" 2>&1 || { cat "$work/tls.log"; fail "c_api_tls did not build in the root"; }

# Gone from the root: everything libnode needs beyond glibc and libstdc++, whatever its version, and any Node.
gone='.*/usr/lib/ssl|.*/(libnode|libuv|libicu[a-z0-9]*|libssl|libcrypto|libcares|libnghttp2|libbrotli[a-z]*|libz)\.so.*|.*/usr/share/nodejs|.*/usr/bin/node(js)?'
find "$r/usr/lib" "$r/usr/share" "$r/usr/bin" -regextype egrep -regex "$gone" -prune -exec rm -rf {} +
left=$(find "$r/usr/lib" "$r/usr/share" "$r/usr/bin" -regextype egrep -regex "$gone")
[ -z "$left" ] || fail "still in the root: $left"
in_root "ldconfig" || fail "ldconfig in the root failed"
say "the root has no node, /usr/share/nodejs, ICU, OpenSSL (nor /usr/lib/ssl), libuv, c-ares, nghttp2, Brotli or zlib"

# ---- 4. run them against the server outside ---------------------------------------------------------------
for bin in seed/your_program consumer/build/app; do
  deps=$(in_root "ldd $bin") || fail "ldd $bin failed in the root"
  ! grep -q 'not found' <<<"$deps" || { echo "$deps"; fail "$bin: unresolved libraries in the root"; }
  for l in libnode.so.108 libuv.so.1 libicuuc.so.72 libicudata.so.72 libssl.so.3 libcrypto.so.3 libcares.so.2 libz.so.1; do
    grep -qE "^\s*$l => $pkg/lib/$l " <<<"$deps" || { echo "$deps"; fail "$bin: $l not from $pkg/lib"; }
  done
done
say "running snippet 14 (the seed's event callback example) against the server"
in_root "cd seed && timeout 120 sh ./run_example.sh /work/fixture.env ./your_program" >"$work/seed.log" 2>&1 ||
  { cat "$work/seed.log"; fail "snippet 14 failed in the root"; }
say "running the find_package consumer against the server"
in_root "timeout 120 sh seed/run_example.sh /work/fixture.env consumer/build/app /work/app.db" >"$work/app.log" 2>&1 ||
  { cat "$work/app.log"; fail "the find_package consumer failed in the root"; }
tail -n 1 "$work/app.log"
say "running c_api_tls in the root against a wss server (native/tests/tls-fixture.mjs)"
SYNC_PORTABLE_ROOT=$r timeout 180 node "$here/tls-fixture.mjs" "$here/portable/tls-in-root.sh" >"$work/tls-run.log" 2>&1 ||
  { cat "$work/tls-run.log"; fail "c_api_tls failed in the root"; }
tail -n 2 "$work/tls-run.log"
echo "dist_portable_$suite: 3 passed, 0 failed ($(($(date +%s) - t0)) s; $(. "$r/etc/os-release" && echo "$PRETTY_NAME"))"
