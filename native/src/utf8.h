#pragma once

#include <cstddef>
#include <cstdint>

namespace sync_client {

/** Strict UTF-8: no overlong forms, no surrogates, nothing above U+10FFFF. */
inline bool IsValidUtf8(const char *text) {
  const auto *s = reinterpret_cast<const uint8_t *>(text);
  while (*s) {
    uint8_t c = *s;
    size_t n;
    uint32_t cp;
    if (c < 0x80) {
      s++;
      continue;
    } else if ((c & 0xE0) == 0xC0) {
      n = 1;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      n = 2;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      n = 3;
      cp = c & 0x07;
    } else {
      return false;
    }
    for (size_t i = 1; i <= n; i++) {
      if ((s[i] & 0xC0) != 0x80) return false;  // also stops at the terminating NUL
      cp = (cp << 6) | (s[i] & 0x3F);
    }
    if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000)) return false;
    if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    s += n + 1;
  }
  return true;
}

}  // namespace sync_client
