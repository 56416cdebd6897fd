// Internal: the store's wire format. Request: u8 cmd, u32 key length, key, u32 value length, value.
// Reply: u8 status (0 ok, 1 missing, 2 refused), u32 length, payload. Lengths little-endian (both ends are
// this code). A client of a job opens with HELLO, its job id as the key; a store that serves another job
// answers "refused" with the reason and closes the connection.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <unordered_map>

namespace rfab::coll::store_proto {
enum Cmd : uint8_t { kSet = 1, kGet = 2, kAdd = 3, kCheck = 4, kHello = 5 };
enum Reply : uint8_t { kOk = 0, kMissing = 1, kRefused = 2 };
constexpr uint32_t kMaxField = 64u << 20;  // refuse absurd frames instead of allocating them
// Keys and values the store holds at most, in bytes: a bootstrap stores kilobytes per rank, so a client that
// fills this is not a rank.
constexpr size_t kMaxStoreBytes = 512u << 20;

struct Request {
  uint8_t cmd = 0;
  std::string key, value;
};

// Parses one request from the front of `in` into `req` and returns the bytes it used; 0 when the frame is
// still incomplete. Throws std::runtime_error naming the problem for a frame no client writes (a field
// over kMaxField, an unknown command), before buffering it.
size_t parse_request(std::string_view in, Request& req);

// The value of an ADD: a signed decimal integer; throws std::runtime_error otherwise.
long long parse_add_operand(std::string_view v);

// One client connection of the store.
struct Conn {
  int fd = -1;
  std::string in, out;       // bytes received and not yet parsed; replies not yet sent
  bool greeted = false;      // sent the HELLO of this store's job
  bool close_after = false;  // refused: close once `out` is delivered, read nothing more
};

// The store's keys and its answers, apart from the sockets (StoreServer runs it; tests and the fuzzer
// drive it directly).
class StoreState {
 public:
  explicit StoreState(std::string job_id, size_t max_bytes = kMaxStoreBytes)
      : job_(std::move(job_id)), max_bytes_(max_bytes) {}
  // Parses and answers every complete request in `c.in`, appending replies to the `out` of each connection
  // that gets one (a SET also answers GETs other connections wait in). Throws std::runtime_error for a
  // request no client sends; the server then closes that connection.
  void feed(Conn& c, std::map<int, Conn>& conns);
  // Connection `fd` closed: the GETs it waited in end.
  void forget(int fd);
  size_t keys() const { return data_.size(); }
  size_t bytes() const { return bytes_; }

 private:
  void handle(Conn& c, const Request& req, std::map<int, Conn>& conns);
  void on_set(const std::string& key, std::map<int, Conn>& conns);
  // Stores key = value, keeping bytes_ and refusing (std::runtime_error) past max_bytes_.
  void put(const std::string& key, std::string value);
  std::string job_;
  size_t max_bytes_;
  size_t bytes_ = 0;
  std::unordered_map<std::string, std::string> data_;
  std::multimap<std::string, int> waiters_;  // key -> fd of a client blocked in GET
};

std::string reply(uint8_t status, const std::string& payload);
}  // namespace rfab::coll::store_proto
