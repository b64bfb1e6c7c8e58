// A consumer whose target asks for C++11 (CXX_STANDARD 11) and links sync_client::sync_client: the
// library's interface must not raise the standard (it did once, to C++17), and the wrapper must
// compile as it is.
#include "sync_client.hpp"

#include <cstdio>

static_assert(__cplusplus == 201103L, "linking sync_client::sync_client changed the consumer's C++ standard");

int main() {
  // Constructs nothing: only the static, runtime-free part of the wrapper.
  std::string version = SyncClient::sync_engine::get_version();
  std::printf("sync_client %s (__cplusplus %ld)\n", version.c_str(), (long)__cplusplus);
  return version == SYNC_CLIENT_VERSION ? 0 : 1;
}
