#!/bin/sh
# tls-in-root.sh: the PROGRAM dist_portable_test.sh hands to tls-fixture.mjs (which passes no
# arguments): runs c_api_tls, built inside the minimal root $SYNC_PORTABLE_ROOT against the package,
# through chroot, with tls-fixture's server, key pair and CA files (copied into the root). The root
# has no /usr/lib/ssl: trust comes from tls_ca_file alone. NODE_EXTRA_CA_CERTS is passed on, as
# tls-fixture sets it, because the embedded runtime must ignore it.
set -eu
r=${SYNC_PORTABLE_ROOT:?SYNC_PORTABLE_ROOT is not set (run by dist_portable_test.sh)}
cp "$TLS_CA_FILE" "$r/work/tls/ca.pem"
cp "$TLS_OTHER_CA_FILE" "$r/work/tls/other-ca.pem"
exec unshare -m --propagation private sh -c 'mount -t proc proc "$1/proc" && mount --rbind /dev "$1/dev" &&
  exec chroot "$1" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/work TLS_SERVER_URL="$2" TLS_API_KEY="$3" TLS_API_SECRET="$4" \
    TLS_CA_FILE=/work/tls/ca.pem TLS_OTHER_CA_FILE=/work/tls/other-ca.pem NODE_EXTRA_CA_CERTS=/work/tls/ca.pem \
    sh -c "cd /work/tls && exec timeout 60 ./c_api_tls"' sh "$r" "$TLS_SERVER_URL" "$TLS_API_KEY" "$TLS_API_SECRET"
