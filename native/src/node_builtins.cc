// Debian's libnode108 reads five of Node's own JavaScript dependencies ("externalized builtins")
// from fixed paths under /usr/share/nodejs when a runtime starts, and aborts the process when one
// is missing. The binary package ships those files in lib/sync_client/nodejs/ so that it needs
// nothing outside its folder; this file sends libnode's reads there.
//
// How: libnode reads them with libuv's uv_fs_open (node::ReadFileSync). libsync_client defines
// uv_fs_open too and exports it; libnode is linked BIND_NOW, so its reference is bound when it is
// loaded, and libsync_client, which needs libnode, comes before libuv in that lookup (whether the
// program links us or a host dlopen()s us). The definition rewrites exactly those five paths, when
// the package's copy exists, and hands every call to libuv's uv_fs_open (RTLD_NEXT).
#include "node_builtins.h"

#include <dlfcn.h>
#include <sys/stat.h>
#include <uv.h>

#include <cstring>
#include <vector>

#include "runtime.h"

namespace sync_client {

namespace {

const char kSystemDir[] = "/usr/share/nodejs/";

// Relative to kSystemDir and to the package's lib/sync_client/nodejs/; the Debian package of each.
const char *const kBuiltins[][2] = {
    {"cjs-module-lexer/lexer.js", "node-cjs-module-lexer"},
    {"cjs-module-lexer/dist/lexer.js", "node-cjs-module-lexer"},
    {"undici/undici-fetch.js", "node-undici"},
    {"acorn/dist/acorn.js", "node-acorn"},
    {"acorn-walk/dist/walk.js", "node-acorn"},
};
constexpr size_t kCount = sizeof(kBuiltins) / sizeof(kBuiltins[0]);

bool Exists(const std::string &path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0;
}

// The package's copy of each builtin, or "" where there is none (the build tree uses the system's).
// Computed once and never freed: uv_fs_open keeps the path pointer of a synchronous request.
const std::vector<std::string> &Bundled() {
  static const std::vector<std::string> paths = [] {
    std::vector<std::string> out;
    std::string dir = LibraryDirectory() + "/sync_client/nodejs/";
    for (const auto &b : kBuiltins) out.push_back(Exists(dir + b[0]) ? dir + b[0] : "");
    return out;
  }();
  return paths;
}

using UvFsOpen = int (*)(uv_loop_t *, uv_fs_t *, const char *, int, int, uv_fs_cb);

UvFsOpen NextUvFsOpen() {
  static const UvFsOpen next = reinterpret_cast<UvFsOpen>(dlsym(RTLD_NEXT, "uv_fs_open"));
  return next;
}

const char *Redirect(const char *path) {
  if (!path || std::strncmp(path, kSystemDir, sizeof(kSystemDir) - 1) != 0) return path;
  const char *rel = path + sizeof(kSystemDir) - 1;
  for (size_t i = 0; i < kCount; i++) {
    if (std::strcmp(rel, kBuiltins[i][0]) == 0 && !Bundled()[i].empty()) return Bundled()[i].c_str();
  }
  return path;
}

}  // namespace

bool CheckNodeBuiltins(std::string *error) {
  // Our uv_fs_open must be the one libnode calls for the package's copies to be read; a program that
  // links libuv itself ahead of libsync_client would bind libnode to libuv's (then the system's
  // files must exist). RTLD_DEFAULT from here searches the scope libnode was bound in.
  // (Compared by the defining object: &uv_fs_open itself would go through the same lookup.)
  Dl_info found{}, ours{};
  void *bound = dlsym(RTLD_DEFAULT, "uv_fs_open");
  bool redirected = bound && dladdr(bound, &found) && dladdr(reinterpret_cast<void *>(&Redirect), &ours) &&
                    found.dli_fbase == ours.dli_fbase && NextUvFsOpen();
  for (size_t i = 0; i < kCount; i++) {
    std::string system = std::string(kSystemDir) + kBuiltins[i][0];
    if ((redirected && !Bundled()[i].empty()) || Exists(system)) continue;
    *error = std::string("the Node runtime needs ") + kBuiltins[i][0] + ": not in " + LibraryDirectory() +
             "/sync_client/nodejs/" + (redirected ? "" : " (or not reachable: uv_fs_open is not libsync_client's)") +
             " nor " + system + " (on Debian: apt-get install " + kBuiltins[i][1] + ")";
    return false;
  }
  return true;
}

}  // namespace sync_client

extern "C" __attribute__((visibility("default"))) int uv_fs_open(uv_loop_t *loop, uv_fs_t *req, const char *path, int flags,
                                                                 int mode, uv_fs_cb cb) {
  sync_client::UvFsOpen next = sync_client::NextUvFsOpen();
  if (!next) return UV_ENOSYS;
  return next(loop, req, sync_client::Redirect(path), flags, mode, cb);
}
