#include "rfab/base/spec.hpp"

#include <algorithm>

namespace rfab::spec {
namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; });
  return out;
}

}  // namespace

std::vector<KeyValue> split(std::string_view text, std::string_view what) {
  std::vector<KeyValue> out;
  text = trim(text);
  if (text.empty()) return out;
  size_t pos = 0;
  while (pos <= text.size()) {
    size_t comma = text.find(',', pos);
    if (comma == std::string_view::npos) comma = text.size();
    std::string_view item = trim(text.substr(pos, comma - pos));
    const size_t eq = item.find('=');
    if (item.empty()) {
      throw SpecError(std::string(what) + ": empty item at character " + std::to_string(pos + 1) +
                      " (stray comma?)");
    }
    if (eq == std::string_view::npos) {
      throw SpecError(std::string(what) + ": \"" + std::string(item) + "\" is not key=value");
    }
    KeyValue kv{lower(trim(item.substr(0, eq))), std::string(trim(item.substr(eq + 1)))};
    if (kv.key.empty()) throw SpecError(std::string(what) + ": missing key before '=' in \"" + std::string(item) + "\"");
    if (kv.value.empty()) throw SpecError(std::string(what) + ": missing value for key \"" + kv.key + "\"");
    for (const KeyValue& prev : out) {
      if (prev.key == kv.key) throw SpecError(std::string(what) + ": key \"" + kv.key + "\" given twice");
    }
    out.push_back(std::move(kv));
    pos = comma + 1;
  }
  return out;
}

KindSpec split_kind(std::string_view text, std::string_view what) {
  const size_t colon = text.find(':');
  KindSpec k;
  k.kind = std::string(trim(text.substr(0, colon)));
  if (k.kind.empty()) throw SpecError(std::string(what) + ": \"" + std::string(text) + "\" has no kind before ':'");
  if (colon != std::string_view::npos) k.values = split(text.substr(colon + 1), what);
  return k;
}

void value_error(std::string_view what, std::string_view key, std::string_view value, std::string_view why) {
  throw SpecError(std::string(what) + ": bad value \"" + std::string(value) + "\" for key \"" + std::string(key) +
                      "\": " + std::string(why),
                  std::string(why));
}

void unknown_key(std::string_view what, std::string_view key, std::string_view valid) {
  throw SpecError(std::string(what) + ": unknown key \"" + std::string(key) + "\" (valid keys: " +
                  std::string(valid) + ")");
}

}  // namespace rfab::spec
