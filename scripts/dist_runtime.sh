#!/usr/bin/env bash
# dist_runtime.sh DIST LIBNODE_ROOT: makes DIST (scripts/build_dist.sh's install tree) need nothing
# from the system but glibc and libstdc++:
#   lib/                      libnode.so.108 and every library it (or libsync_client, better_sqlite3.node)
#                             needs, recursively, except glibc's and the GCC runtime's; each with RUNPATH
#                             $ORIGIN, so they find one another in lib/ and never the system's copies
#   lib/sync_client/nodejs/   the JavaScript files Debian's libnode reads from /usr/share/nodejs (the
#                             library redirects those reads here: native/src/node_builtins.cc)
#   licenses/                 the Debian copyright file of every package a shipped file comes from, the
#                             npm licenses of what sync_engine.js and better_sqlite3.node are built from,
#                             and the project's own
# Then checks the glibc and libstdc++ symbol versions the package needs against the floor that
# native/dist/README.md states, so the README cannot drift from the binaries.
# Needs patchelf (scripts/install-native-deps.sh) and the Debian packages scripts/setup-libnode.sh installs.
set -euo pipefail
dist=$(cd "${1:?usage: dist_runtime.sh DIST LIBNODE_ROOT}" && pwd)
libnode_root=${2:?usage: dist_runtime.sh DIST LIBNODE_ROOT}
root=$(cd "$(dirname "$0")/.." && pwd)
lib="$dist/lib"
log() { echo "dist_runtime: $*" >&2; }
command -v patchelf >/dev/null || { log "patchelf missing: bash scripts/install-native-deps.sh build"; exit 1; }

libnode_dir=""
for d in "$libnode_root/lib/x86_64-linux-gnu" "$libnode_root/lib" "$libnode_root/usr/lib/x86_64-linux-gnu"; do
  [ -e "$d/libnode.so.108" ] && { libnode_dir=$d; break; }
done
[ -n "$libnode_dir" ] || { log "no libnode.so.108 under $libnode_root"; exit 1; }

# glibc (every library of the libc6 package) and the GCC runtime: what every target system has.
system_only='^(libc|libm|libdl|libpthread|librt|libresolv|libutil|libanl|ld-linux-x86-64|libstdc\+\+|libgcc_s)\.so\.'

# ---- libraries: the closure of libsync_client's and the SQLite module's dependencies ------------------
# ldd resolves the whole tree; libnode from the unpacked prefix, the rest from the build machine.
closure=$(for f in "$lib/libsync_client.so.1" "$lib/sync_client/better_sqlite3.node"; do
  LD_LIBRARY_PATH="$libnode_dir" ldd "$f"
done | awk '$2 == "=>" { print $1, $3 }' | sort -u)
! grep -q 'not found' <<<"$closure" || { log "unresolved libraries:"; grep 'not found' <<<"$closure" >&2; exit 1; }
shipped=()
while read -r soname path; do
  [[ $soname =~ $system_only ]] && continue
  [ "$soname" = libsync_client.so.1 ] && continue
  cp -L "$path" "$lib/$soname"
  chmod 0644 "$lib/$soname"
  # RUNPATH $ORIGIN: a library's own dependencies come from lib/ (not the system's same-named ones).
  patchelf --set-rpath '$ORIGIN' "$lib/$soname"
  shipped+=("$soname $path")
done <<<"$closure"
log "shipped ${#shipped[@]} libraries: $(printf '%s\n' "${shipped[@]}" | cut -d' ' -f1 | tr '\n' ' ')"
for want in libnode.so.108 libuv.so.1 libssl.so.3 libcrypto.so.3 libicuuc.so.72 libicudata.so.72; do
  [ -e "$lib/$want" ] || { log "$want was not shipped"; exit 1; }
done

# Now each of them resolves from lib/ (through RUNPATH alone), but for glibc's and the GCC runtime's.
strays=$(for f in "$lib/libsync_client.so.1" "$lib/sync_client/better_sqlite3.node"; do
  env -u LD_LIBRARY_PATH ldd "$f" | awk '$2 == "=>" { print $1, $3 }'
done | sort -u | while read -r soname path; do
  [[ $soname =~ $system_only ]] || [ "$path" = "$lib/$soname" ] || echo "$soname => $path"
done)
[ -z "$strays" ] || { log "not resolved from lib/:"; echo "$strays" >&2; exit 1; }

# ---- libnode's JavaScript dependencies ------------------------------------------------------------------
# The paths libnode was built to read (its NODE_SHARED_BUILTIN_* strings); node_builtins.cc must know each.
mapfile -t builtins < <(strings "$lib/libnode.so.108" | grep -xE '/usr/share/nodejs/[A-Za-z0-9_./-]+\.js' | sort -u)
[ ${#builtins[@]} -gt 0 ] || { log "found no /usr/share/nodejs paths in libnode.so.108"; exit 1; }
for path in "${builtins[@]}"; do
  rel=${path#/usr/share/nodejs/}
  grep -qF "\"$rel\"" "$root/native/src/node_builtins.cc" || { log "native/src/node_builtins.cc does not redirect $path"; exit 1; }
  [ -f "$path" ] || { log "$path missing: bash scripts/setup-libnode.sh installs its package"; exit 1; }
  mkdir -p "$lib/sync_client/nodejs/$(dirname "$rel")"
  cp -L "$path" "$lib/sync_client/nodejs/$rel"
  chmod 0644 "$lib/sync_client/nodejs/$rel"
done
log "shipped ${#builtins[@]} JavaScript files into lib/sync_client/nodejs/"

# ---- licenses --------------------------------------------------------------------------------------------
licenses="$dist/licenses"
mkdir -p "$licenses"
debian_license() { # debian_license PACKAGE DOC_ROOT
  local f="$2/usr/share/doc/$1/copyright"
  [ -f "$f" ] || { log "no $f"; exit 1; }
  cp -L "$f" "$licenses/$1.copyright"
}
debian_license libnode108 "$libnode_root/.."
packages=$( { for s in "${shipped[@]}"; do
  p=${s#* }
  [ "${p#"$libnode_dir"/}" != "$p" ] && continue # libnode itself, from the unpacked prefix
  dpkg -S "$(realpath "$p")" 2>/dev/null || dpkg -S "$p"
done; for path in "${builtins[@]}"; do dpkg -S "$path"; done; } | cut -d: -f1 | sort -u)
for p in $packages; do debian_license "$p" ""; done
cp "$root/node_modules/better-sqlite3-multiple-ciphers/LICENSE" "$licenses/npm-better-sqlite3-multiple-ciphers.LICENSE"
cat >"$licenses/sqlite.txt" <<'EOF'
better_sqlite3.node contains SQLite (https://sqlite.org/copyright.html), which is in the public domain,
and SQLite3 Multiple Ciphers (https://github.com/utelle/SQLite3MultipleCiphers), MIT licensed like
better-sqlite3-multiple-ciphers (npm-better-sqlite3-multiple-ciphers.LICENSE).
EOF
# The npm packages esbuild put into sync_engine.js (it marks each module's source with a comment).
for pkg in $(grep -oE '^// node_modules/(@[^/]+/)?[^/]+' "$lib/sync_client/sync_engine.js" | sed 's|^// node_modules/||' | sort -u); do
  f=$(ls "$root/node_modules/$pkg"/LICEN[CS]E* 2>/dev/null | head -n 1)
  [ -n "$f" ] || { log "no license file in node_modules/$pkg (bundled into sync_engine.js)"; exit 1; }
  cp "$f" "$licenses/npm-${pkg//\//+}.LICENSE"
done
printf 'sync_client (libsync_client, sync_engine.js, the headers, the examples): MIT, %s\n' \
  "see the project's package.json; copyright its authors." >"$licenses/sync_client.txt"
log "licenses: $(ls "$licenses" | wc -l) files"

# ---- the floor: the newest glibc and libstdc++ symbol versions any shipped file needs ---------------------
newest() { # newest PREFIX: the highest PREFIX_x.y[.z] version any ELF in lib/ requires
  find "$lib" -type f \( -name '*.so*' -o -name '*.node' \) -print0 | xargs -0 objdump -T 2>/dev/null |
    grep -oE "\(?$1_[0-9.]+\)?" | tr -d '()' | sed "s/^$1_//" | sort -V | tail -n 1
}
glibc=$(newest GLIBC)
glibcxx=$(newest GLIBCXX)
floor=$(sed -n 's/.*glibc \([0-9.]*\) or later.*/\1/p' "$root/native/dist/README.md" | head -n 1)
floorxx=$(sed -n 's/.*GLIBCXX_\([0-9.]*\).*/\1/p' "$root/native/dist/README.md" | head -n 1)
log "needs glibc $glibc (README: $floor or later), libstdc++ GLIBCXX_$glibcxx (README: GLIBCXX_$floorxx)"
[ "$(printf '%s\n%s\n' "$glibc" "$floor" | sort -V | tail -n 1)" = "$floor" ] ||
  { log "the package needs glibc $glibc, newer than the $floor native/dist/README.md states"; exit 1; }
[ "$(printf '%s\n%s\n' "$glibcxx" "$floorxx" | sort -V | tail -n 1)" = "$floorxx" ] ||
  { log "the package needs GLIBCXX_$glibcxx, newer than the GLIBCXX_$floorxx native/dist/README.md states"; exit 1; }
