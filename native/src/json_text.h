// JSON text written by the C side, byte for byte as the engine's JSON.stringify would write it.
#pragma once

#include <cstddef>
#include <string>

namespace sync_client {

/** Appends `text` (UTF-8, `size` bytes) as a JSON string: quoted, escaped as JSON.stringify escapes. */
inline void AppendJsonString(std::string &out, const char *text, size_t size) {
  static const char kHex[] = "0123456789abcdef";
  out += '"';
  for (size_t i = 0; i < size; i++) {
    unsigned char c = static_cast<unsigned char>(text[i]);
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20) {
          out += "\\u00";
          out += kHex[c >> 4];
          out += kHex[c & 0xf];
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  out += '"';
}

inline void AppendJsonString(std::string &out, const std::string &text) { AppendJsonString(out, text.data(), text.size()); }

}  // namespace sync_client
