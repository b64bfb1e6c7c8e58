// What a call into the engine's JavaScript carries: an operation's name and its arguments, typed as
// the contract declares them (native/js/contract/ops.ts). Calls are made only by the functions
// generated from it (contract/engine_ops.h, contract/test_ops.h); the bridge turns the arguments
// into one JavaScript object (bridge.cc), which the host's handler of that name receives.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <variant>
#include <vector>

namespace sync_client {

/**
 * A call's copy of key bytes (an encryption key). Calls and their records are copied on their way
 * to the JS thread; every copy shares this one buffer, which is zeroed when the last goes.
 */
class SecretBytes {
 public:
  SecretBytes(const uint8_t *data, size_t size) : bytes_(data, data + size) {}
  ~SecretBytes() { Wipe(bytes_.data(), bytes_.size()); }
  SecretBytes(const SecretBytes &) = delete;
  SecretBytes &operator=(const SecretBytes &) = delete;
  const uint8_t *data() const { return bytes_.data(); }
  size_t size() const { return bytes_.size(); }
  /** Zeroes `size` bytes in a way the compiler may not drop as a dead store. */
  static void Wipe(void *data, size_t size) {
    if (size > 0) explicit_bzero(data, size);
  }

 private:
  std::vector<uint8_t> bytes_;
};

/** Key bytes as the C caller passed them (not owned); data nullptr: none. */
struct KeyBytes {
  const uint8_t *data;
  size_t size;
};

/** Bytes as the C caller passed them (not owned): an attachment's. */
struct ByteSpan {
  const void *data;
  size_t size;
};

/**
 * A call's copy of a ByteSpan: the caller's memory may be gone by the time the JS thread runs a call
 * that timed out. Shared by the call's copies, like SecretBytes.
 */
using ByteCopy = std::shared_ptr<const std::vector<uint8_t>>;

/** null, a boolean, a number (every uint32_t is exact as a double), a string, key bytes or other bytes (each a Buffer in JS). */
using Scalar = std::variant<std::nullptr_t, bool, double, std::string, std::shared_ptr<const SecretBytes>, ByteCopy>;

// The builders the generated code uses: a plain converting constructor would turn a const char *
// into a bool (C++17's variant).
inline Scalar String(const std::string &s) { return Scalar(std::in_place_type<std::string>, s); }
inline Scalar OptionalString(const char *s) { return s ? String(s) : Scalar(nullptr); }
inline Scalar Number(uint32_t n) { return Scalar(std::in_place_type<double>, static_cast<double>(n)); }
inline Scalar Boolean(bool b) { return Scalar(std::in_place_type<bool>, b); }
inline Scalar Secret(KeyBytes k) { return k.data ? Scalar(std::make_shared<const SecretBytes>(k.data, k.size)) : Scalar(nullptr); }
inline Scalar Bytes(ByteSpan b) {
  const auto *first = static_cast<const uint8_t *>(b.data);
  return Scalar(std::in_place_type<ByteCopy>, std::make_shared<const std::vector<uint8_t>>(first, first + b.size));
}

struct Field {
  const char *name;
  Scalar value;
};
/** A record of the contract: its fields become the members of one JavaScript object. */
using Record = std::vector<Field>;

struct Argument {
  const char *name;
  std::variant<Scalar, Record> value;
};

struct OpCall {
  const char *name;
  std::vector<Argument> arguments;
};

/** What an operation answers besides its code: a string (TextResult) or bytes (BytesResult), which the reply must hold, or nothing. */
struct TextResult {};
struct BytesResult {};
struct NoResult {};

/** An OpCall whose result type the compiler knows: RunText takes only Op<TextResult>. */
template <typename Result>
struct Op : OpCall {};

}  // namespace sync_client
