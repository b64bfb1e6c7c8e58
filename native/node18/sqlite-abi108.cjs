// Preloaded (NODE_OPTIONS=--require) into every process of `scripts/test-node18.sh`: tests, the servers
// and the example clients they spawn. better-sqlite3's default addon in node_modules is built for the
// system Node (ABI 115) and cannot load under Node 18 (ABI 108); this swaps in the ABI-108 build named
// by SYNC_TEST_SQLITE_BINDING (scripts/build-embedded-sqlite.sh) when better-sqlite3 loads its default
// addon, so no engine, harness or example source needs to know. An explicit `nativeBinding` path is
// left alone; so is any Node other than ABI 108 that inherits NODE_OPTIONS. Test-only.
'use strict';
const target = process.env.SYNC_TEST_SQLITE_BINDING;
if (target && process.versions.modules === '108') {
  const defaultAddon = /[\\/]better-sqlite3-multiple-ciphers[\\/]build[\\/](?:Release|Debug)[\\/]better_sqlite3\.node$/;
  const dlopen = process.dlopen;
  process.dlopen = function (module, filename, ...rest) {
    return dlopen.call(this, module, defaultAddon.test(String(filename)) ? target : filename, ...rest);
  };
}
