// Typed configuration from environment variables, through one replaceable lookup.
//
// Every variable rfab reads is listed in the registry (env_registry.cpp: name, type, default, component,
// meaning), and docs/environment.md is checked against it by a unit test. Reading a name that is not
// registered is a programming error (std::logic_error), so the registry cannot fall behind the code.
//
// The lookup is std::getenv unless replaced: tests install a map with ScopedLookup instead of mutating the
// process environment. Getters treat an empty value like an unset one and throw EnvError, naming the
// variable, its value and what it accepts, on a malformed one:
//   RFAB_SHM='maybe': expected 0/1, on/off or yes/no
#pragma once
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <limits>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "rfab/base/error.hpp"
#include "rfab/base/time.hpp"

namespace rfab::env {

class EnvError : public ParseError {
 public:
  using ParseError::ParseError;
};

// One registry entry. `type` is what the getters accept (string, bool, unsigned, size, duration, seconds,
// choice, spec, address, path); `default_value` is the text documented as the default ("-" for none).
struct Var {
  const char* name;
  const char* type;
  const char* default_value;
  const char* component;
  const char* meaning;
};

std::span<const Var> registry();
const Var* find(std::string_view name);  // nullptr when not registered

// Returns the lookup's value of `name` (nullptr when unset). Throws std::logic_error for an unregistered name.
const char* raw(const char* name);
// Set and non-empty.
bool is_set(const char* name);

using Lookup = std::function<const char*(const char*)>;
// Replaces the process-wide lookup; nullptr restores std::getenv. Returns the previous one. The lookup is
// read under a lock, but a replacement should happen before the threads that read configuration start.
Lookup set_lookup(Lookup lookup);

// Test helper: for its lifetime, the environment is exactly `vars` (unset for every other name).
class ScopedLookup {
 public:
  explicit ScopedLookup(std::map<std::string, std::string> vars);
  ~ScopedLookup();
  ScopedLookup(const ScopedLookup&) = delete;
  ScopedLookup& operator=(const ScopedLookup&) = delete;

 private:
  std::map<std::string, std::string> vars_;
  Lookup previous_;
};

// Typed getters: std::nullopt when unset or empty.
std::optional<std::string> get_string(const char* name);
std::optional<bool> get_bool(const char* name);  // 1/0, on/off, yes/no, true/false
std::optional<uint64_t> get_unsigned(const char* name, uint64_t lo = 0,
                                     uint64_t hi = std::numeric_limits<uint64_t>::max());
std::optional<uint64_t> get_size(const char* name, uint64_t lo = 0,  // "4096", "64K", "4M" (powers of 1024)
                                 uint64_t hi = std::numeric_limits<uint64_t>::max());
std::optional<Nanos> get_duration(const char* name);  // "500us", "2s" (a unit is required)
// One of `accepted` (exact, case-sensitive); returns it.
std::optional<std::string> get_choice(const char* name, std::initializer_list<std::string_view> accepted);

// Throws EnvError("<name>='<value>': <why>").
[[noreturn]] void fail(const char* name, std::string_view value, std::string_view why);

}  // namespace rfab::env
