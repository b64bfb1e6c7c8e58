#include "sqlite_api.h"

#include <dlfcn.h>
#include <link.h>

#include <cstdio>
#include <mutex>
#include <set>

#include "runtime.h"

namespace sync_client {

namespace {

bool Resolve(SqliteApi *api, std::string *error) {
  std::string module = SqliteModulePath();
  // RTLD_NOLOAD: the very module the runtime loaded, or nothing; never a second copy.
  void *handle = dlopen(module.c_str(), RTLD_NOW | RTLD_NOLOAD);
  if (!handle) {
    *error = "the engine's SQLite module is not loaded: " + module;
    return false;
  }
#define SYNC_SQLITE_RESOLVE(name)                                                                                                \
  api->name = reinterpret_cast<decltype(api->name)>(dlsym(handle, "sqlite3_" #name));                                         \
  if (!api->name) {                                                                                                            \
    *error = module + " does not export sqlite3_" #name " (build it with scripts/build-embedded-sqlite.sh)";                     \
    return false;                                                                                                              \
  }
  SYNC_SQLITE_FUNCTIONS(SYNC_SQLITE_RESOLVE)
#undef SYNC_SQLITE_RESOLVE
  if (api->libversion_number() != SQLITE_VERSION_NUMBER) {
    *error = module + " holds SQLite " + api->libversion() + "; libsync_client was built for " SQLITE_VERSION;
    return false;
  }
  if (api->threadsafe() == 0) {
    *error = module + " holds a SQLite built without thread safety";
    return false;
  }
  return true;
}

std::string Hex(const void *p) {
  char text[32];
  std::snprintf(text, sizeof text, "%p", p);
  return text;
}

}  // namespace

const SqliteApi *SqliteApi::Get(std::string *error) {
  static std::mutex mutex;
  static SqliteApi api;
  static bool resolved = false;
  std::lock_guard<std::mutex> lock(mutex);
  if (!resolved) resolved = Resolve(&api, error);
  return resolved ? &api : nullptr;
}

std::string DescribeSqliteOrigin() {
  std::string why;
  const SqliteApi *api = SqliteApi::Get(&why);
  if (!api) return "{\"error\":\"" + why + "\"}";
  Dl_info used{};
  dladdr(reinterpret_cast<void *>(api->libversion), &used);
  void *module = dlopen(SqliteModulePath().c_str(), RTLD_LAZY | RTLD_NOLOAD);
  Dl_info loaded{};
  if (module) dladdr(dlsym(module, "sqlite3_libversion"), &loaded);
  // Every definition of sqlite3_libversion any loaded object reaches: one SQLite, or more.
  std::set<void *> definitions;
  dl_iterate_phdr(
      [](struct dl_phdr_info *info, size_t, void *data) {
        void *object = dlopen(info->dlpi_name[0] ? info->dlpi_name : nullptr, RTLD_LAZY | RTLD_NOLOAD);
        if (!object) return 0;
        if (void *f = dlsym(object, "sqlite3_libversion")) static_cast<std::set<void *> *>(data)->insert(f);
        dlclose(object);
        return 0;
      },
      &definitions);
  if (module) dlclose(module);
  return std::string("{\"used\":\"") + Hex(reinterpret_cast<void *>(api->libversion)) + "\",\"used_in\":\"" + (used.dli_fname ? used.dli_fname : "") +
         "\",\"used_base\":\"" + Hex(used.dli_fbase) + "\",\"module\":\"" + SqliteModulePath() + "\",\"module_base\":\"" + Hex(loaded.dli_fbase) +
         "\",\"definitions\":" + std::to_string(definitions.size()) + ",\"version\":\"" + api->libversion() + "\"}";
}

}  // namespace sync_client
