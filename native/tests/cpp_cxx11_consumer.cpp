// A consumer whose target asks for C++11 (CXX_STANDARD 11) and links sync_client::sync_client:
// the library's INTERFACE compile feature cxx_std_17 must raise the standard, or
// sync_client.hpp stops the build with its #error.
#include "sync_client.hpp"

#include <cstdio>

static_assert(__cplusplus >= 201703L, "CMake did not raise the standard to C++17");

int main() {
  // Constructs nothing: only the static, runtime-free part of the wrapper.
  std::string version = SyncClient::sync_engine::get_version();
  std::printf("sync_client %s (__cplusplus %ld)\n", version.c_str(), (long)__cplusplus);
  return version == SYNC_CLIENT_VERSION ? 0 : 1;
}
