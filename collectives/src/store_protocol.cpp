#include "store_protocol.hpp"

#include <charconv>
#include <cstring>
#include <stdexcept>

namespace rfab::coll::store_proto {

size_t parse_request(std::string_view in, Request& req) {
  if (in.empty()) return 0;
  const auto cmd = static_cast<uint8_t>(in[0]);
  if (cmd < kSet || cmd > kHello) throw std::runtime_error("unknown command " + std::to_string(cmd));
  if (in.size() < 9) return 0;
  uint32_t klen;
  std::memcpy(&klen, in.data() + 1, 4);
  if (klen > kMaxField) throw std::runtime_error("key too long");
  if (in.size() < 5 + size_t{klen} + 4) return 0;
  uint32_t vlen;
  std::memcpy(&vlen, in.data() + 5 + klen, 4);
  if (vlen > kMaxField) throw std::runtime_error("value too long");
  const size_t total = 9 + size_t{klen} + vlen;
  if (in.size() < total) return 0;
  req.cmd = cmd;
  req.key.assign(in.data() + 5, klen);
  req.value.assign(in.data() + 9 + klen, vlen);
  return total;
}

long long parse_add_operand(std::string_view v) {
  long long x = 0;
  const auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), x);
  if (v.empty() || ec != std::errc{} || p != v.data() + v.size())
    throw std::runtime_error("ADD of a value that is not an integer");
  return x;
}

std::string reply(uint8_t status, const std::string& payload) {
  std::string r;
  r.push_back(static_cast<char>(status));
  const auto n = static_cast<uint32_t>(payload.size());
  r.append(reinterpret_cast<const char*>(&n), 4);
  r += payload;
  return r;
}

void StoreState::feed(Conn& c, std::map<int, Conn>& conns) {
  Request req;
  for (size_t used; !c.close_after && (used = parse_request(c.in, req)) > 0;) {
    c.in.erase(0, used);
    handle(c, req, conns);
  }
}

void StoreState::forget(int fd) {
  for (auto it = waiters_.begin(); it != waiters_.end();) it = it->second == fd ? waiters_.erase(it) : std::next(it);
}

void StoreState::on_set(const std::string& key, std::map<int, Conn>& conns) {
  auto range = waiters_.equal_range(key);
  for (auto it = range.first; it != range.second; ++it)
    if (auto w = conns.find(it->second); w != conns.end()) w->second.out += reply(kOk, data_[key]);
  waiters_.erase(range.first, range.second);
}

void StoreState::put(const std::string& key, std::string value) {
  const auto it = data_.find(key);
  const size_t old = it == data_.end() ? 0 : key.size() + it->second.size();
  const size_t now = bytes_ - old + key.size() + value.size();
  if (now > max_bytes_)
    throw std::runtime_error("the store is full (" + std::to_string(max_bytes_) + " bytes of keys and values)");
  bytes_ = now;
  data_[key] = std::move(value);
}

void StoreState::handle(Conn& c, const Request& req, std::map<int, Conn>& conns) {
  const std::string& key = req.key;
  const std::string& value = req.value;
  if (req.cmd == kHello) {
    if (!job_.empty() && key != job_) {
      c.out += reply(kRefused, "this store serves job '" + job_ + "', not job '" + key + "'");
      c.close_after = true;
    } else {
      c.greeted = true;
      c.out += reply(kOk, {});
    }
    return;
  }
  if (!job_.empty() && !c.greeted) {
    c.out += reply(kRefused, "this store serves job '" + job_ + "'; a client must name its job first");
    c.close_after = true;
    return;
  }
  switch (req.cmd) {
    case kSet:
      put(key, value);
      c.out += reply(kOk, {});
      on_set(key, conns);
      break;
    case kGet:
      if (auto d = data_.find(key); d != data_.end()) c.out += reply(kOk, d->second);
      else waiters_.emplace(key, c.fd);
      break;
    case kAdd: {
      long long v = 0;
      if (auto d = data_.find(key); d != data_.end()) v = parse_add_operand(d->second);
      if (__builtin_add_overflow(v, parse_add_operand(value), &v)) throw std::runtime_error("ADD overflows");
      put(key, std::to_string(v));
      c.out += reply(kOk, data_[key]);
      on_set(key, conns);
      break;
    }
    case kCheck: c.out += reply(data_.count(key) != 0 ? kOk : kMissing, {}); break;
    default: throw std::runtime_error("unknown command");
  }
}

}  // namespace rfab::coll::store_proto
