// The JavaScript files Debian's libnode loads from /usr/share/nodejs, and where they are read from
// (node_builtins.cc: the package's lib/sync_client/nodejs/ copies, else the system's).
#pragma once

#include <string>

namespace sync_client {

/**
 * True when every file libnode will read at start-up is reachable, from the package or the system;
 * otherwise false with `error` naming the missing file and its Debian package (libnode would abort
 * the whole process instead).
 */
bool CheckNodeBuiltins(std::string *error);

}  // namespace sync_client
