// Typed decode errors. Every malformed packet is reported as one WireError naming the field that is
// wrong and the byte offset (from the start of the buffer handed to the decoder) where it starts.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <variant>

namespace rfab::wire {

enum class Errc : uint8_t {
  truncated,         // fewer bytes than the field needs
  bad_version,       // IP version / IHL / BTH transport version
  bad_length,        // a length field disagrees with the bytes present
  not_ip,            // ethertype is neither IPv4 nor IPv6
  not_udp,           // IP protocol / next header is not UDP
  not_roce,          // UDP destination port is not the RoCE v2 port
  fragmented,        // IPv4 fragment: RoCE v2 never fragments
  unknown_opcode,    // BTH opcode not in the opcode table
  bad_pad,           // pad count invalid for this opcode / payload
  bad_payload,       // payload present where the opcode allows none, or wrong size
  bad_field,         // a field value the spec forbids
  no_space,          // encoder: output buffer too small
};

const char* to_string(Errc e);

struct WireError {
  Errc code{};
  const char* field = "";  // e.g. "bth", "ipv4.total_length"
  size_t offset = 0;       // byte offset of the field in the decoded buffer
  size_t need = 0;         // for truncated / no_space: bytes needed
  size_t have = 0;         // for truncated / no_space: bytes available

  // "truncated ipv4 header at byte 14: need 20 bytes, have 9"
  std::string message() const;
};

// A value or a WireError. Small and exception-free, for hot paths.
template <class T>
class Result {
 public:
  Result(T value) : v_(std::move(value)) {}           // NOLINT: implicit by design
  Result(WireError error) : v_(std::move(error)) {}   // NOLINT
  // A default-constructed value, filled in place by the decoder (avoids copying large frames).
  explicit Result(std::in_place_t) : v_(std::in_place_index<0>) {}
  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }
  T& value() { return std::get<0>(v_); }
  const T& value() const { return std::get<0>(v_); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() { return value(); }
  const T& operator*() const { return value(); }
  const WireError& error() const { return std::get<1>(v_); }

 private:
  std::variant<T, WireError> v_;
};

inline WireError truncated(const char* field, size_t offset, size_t need, size_t have) {
  return WireError{Errc::truncated, field, offset, need, have};
}
inline WireError wire_error(Errc code, const char* field, size_t offset) {
  return WireError{code, field, offset, 0, 0};
}

}  // namespace rfab::wire
