// A plain Node executable on the embedded runtime's libnode (Node 18): runs ts-direct.mjs so the
// direct TypeScript figures come from the same Node version and better-sqlite3 build as the C API's.
#include <node.h>

int main(int argc, char **argv) { return node::Start(argc, argv); }
