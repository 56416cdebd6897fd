#include "rfab/base/env.hpp"

#include <cstdlib>
#include <mutex>
#include <stdexcept>

#include "rfab/base/units.hpp"

namespace rfab::env {
namespace {

std::mutex g_mu;

// Function-local, so reads during other translation units' static initialisation (RFAB_CRC32) are safe.
Lookup& installed() {
  static Lookup lookup;  // empty: std::getenv
  return lookup;
}

const char* lookup(const char* name) {
  std::lock_guard l(g_mu);
  // The one getenv call of rfab: everything else reads the environment through here.
  return installed() ? installed()(name) : std::getenv(name);
}

// Runs a base parser on the value and turns its ParseError into an EnvError naming the variable.
template <class F>
auto parsed(const char* name, const char* v, F&& parse) {
  try {
    return parse(std::string_view(v));
  } catch (const ParseError& e) {
    fail(name, v, e.reason());
  }
}

}  // namespace

const Var* find(std::string_view name) {
  for (const Var& v : registry())
    if (name == v.name) return &v;
  return nullptr;
}

const char* raw(const char* name) {
  if (find(name) == nullptr)
    throw std::logic_error(std::string("environment variable ") + name +
                           " is not in rfab's registry (base/src/env_registry.cpp)");
  return lookup(name);
}

bool is_set(const char* name) {
  const char* v = raw(name);
  return v != nullptr && *v != '\0';
}

Lookup set_lookup(Lookup f) {
  std::lock_guard l(g_mu);
  Lookup prev = std::move(installed());
  installed() = std::move(f);
  return prev;
}

ScopedLookup::ScopedLookup(std::map<std::string, std::string> vars) : vars_(std::move(vars)) {
  previous_ = set_lookup([this](const char* name) -> const char* {
    auto it = vars_.find(name);
    return it == vars_.end() ? nullptr : it->second.c_str();
  });
}

ScopedLookup::~ScopedLookup() { set_lookup(std::move(previous_)); }

void fail(const char* name, std::string_view value, std::string_view why) {
  std::string msg = std::string(name) + "='" + std::string(value) + "': " + std::string(why);
  throw EnvError(msg, std::string(why));
}

std::optional<std::string> get_string(const char* name) {
  if (!is_set(name)) return std::nullopt;
  return std::string(raw(name));
}

std::optional<bool> get_bool(const char* name) {
  if (!is_set(name)) return std::nullopt;
  const std::string v = raw(name);
  if (v == "1" || v == "on" || v == "yes" || v == "true") return true;
  if (v == "0" || v == "off" || v == "no" || v == "false") return false;
  fail(name, v, "expected 0/1, on/off, yes/no or true/false");
}

std::optional<uint64_t> get_unsigned(const char* name, uint64_t lo, uint64_t hi) {
  if (!is_set(name)) return std::nullopt;
  return parsed(name, raw(name), [&](std::string_view v) { return parse_u64(v, {}, lo, hi); });
}

std::optional<uint64_t> get_size(const char* name, uint64_t lo, uint64_t hi) {
  if (!is_set(name)) return std::nullopt;
  const char* v = raw(name);
  const uint64_t b = parsed(name, v, [](std::string_view s) { return parse_size(s); });
  if (b < lo || b > hi)
    fail(name, v, "out of range: expected a size in [" + std::to_string(lo) + ", " + std::to_string(hi) + "] bytes");
  return b;
}

std::optional<Nanos> get_duration(const char* name) {
  if (!is_set(name)) return std::nullopt;
  return parsed(name, raw(name), [](std::string_view s) { return parse_duration_ns(s); });
}

std::optional<std::string> get_choice(const char* name, std::initializer_list<std::string_view> accepted) {
  if (!is_set(name)) return std::nullopt;
  const std::string v = raw(name);
  std::string list;
  for (std::string_view a : accepted) {
    if (v == a) return v;
    list += list.empty() ? "" : ", ";
    list += a;
  }
  fail(name, v, "expected one of " + list);
}

}  // namespace rfab::env
