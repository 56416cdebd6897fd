// Parsing of the switch-port knobs as a person types them (tc's units), with errors that name the value.
#pragma once
#include <cstdint>
#include <stdexcept>
#include <string>

namespace rfab::lab {

struct BadValue : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// "800mbit", "1gbit", "64kbit", "1000000bit" (bits per second, decimal multiples as tc) -> bytes per second.
uint64_t parse_rate_bytes_per_s(const std::string& what, const std::string& text);
// "30000", "64k"/"64K" (x1024), "1m"/"1M" (x1048576) -> bytes.
uint32_t parse_size_bytes(const std::string& what, const std::string& text);
// "0.01" or "1%" (0..1) -> fraction of 2^32 (1 -> 2^32 - 1: every packet but with no overflow).
uint32_t parse_probability_p32(const std::string& what, const std::string& text);

}  // namespace rfab::lab
