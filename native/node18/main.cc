// node18: a Node 18.20.4 executable made of Debian's libnode108 (the library libsync_client embeds),
// so the engine's own test suite runs under the embedded runtime's Node version. Same main as Node's
// own node_main.cc on POSIX. Built by scripts/test-node18.sh.
#include <node.h>

#include <cstdio>

int main(int argc, char *argv[]) {
  // Node's own launcher leaves stdout/stderr unbuffered; console output and tap's TAP stream rely on it.
  setvbuf(stdout, nullptr, _IONBF, 0);
  setvbuf(stderr, nullptr, _IONBF, 0);
  return node::Start(argc, argv);
}
