// nccl_net_harness: loads an NCCL net plugin with dlopen and drives it the way NCCL's proxy thread does,
// between two processes (two ranks), each of which both sends to and receives from the other:
//
//   init(logger), devices, getProperties; listen -> the handle goes to the peer (through a file here, NCCL's
//   bootstrap there); connect and accept polled in one loop until both comms exist; regMr of one send and
//   one receive arena; then rounds of grouped irecv (several tags and sizes per call, posted larger than
//   what is sent) and isend (in another tag order), at most `--window` rounds outstanding per comm, each
//   request tested until done, iflush after every receive; finally deregMr and the closes.
//
// Every received byte is compared with what the peer sent (a pattern from size, round and element), the
// sizes test() reports with the sizes sent, and the posted bytes past them must be untouched. Exit status:
// 0 success, 1 a check failed or bad usage, 2 the plugin returned an error (its name is printed).
//
//   --plugin PATH | --net-plugin NAME   the library, or NCCL's way: libnccl-net-NAME.so from the loader path
//   --handle-out F --handle-in F        where this rank writes its listen handle / reads the peer's
//   --rank 0|1                          rank 0 is the sender in --bench mode
//   --sizes a,b,...   --iters N   --recvs N (elements per irecv, 1..8)   --window N (1..8)
//   --seconds S       repeat the rounds for S seconds (soak; used to kill a peer mid-transfer)
//   --bench           rank 0 -> rank 1 only, no verification; prints GB/s per size
#include <dlfcn.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cinttypes>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "nccl_net_v8.h"

namespace {

using Clock = std::chrono::steady_clock;

struct Options {
  std::string plugin, net_plugin, handle_out, handle_in;
  int rank = 0;
  std::vector<long> sizes = {0, 1, 7, 255, 1023, 1024, 1025, 4095, 4096, 4097, 65535, 65537, 1 << 20, (4 << 20) + 3, 9 << 20};
  int iters = 3, recvs = 4, window = 8;
  double seconds = 0;
  bool bench = false;
};

struct PluginError : std::runtime_error {
  using std::runtime_error::runtime_error;
};
struct CheckError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

const char* result_name(ncclResult_t r) {
  switch (r) {
    case ncclSuccess: return "ncclSuccess";
    case ncclUnhandledCudaError: return "ncclUnhandledCudaError";
    case ncclSystemError: return "ncclSystemError";
    case ncclInternalError: return "ncclInternalError";
    case ncclInvalidArgument: return "ncclInvalidArgument";
    case ncclInvalidUsage: return "ncclInvalidUsage";
    case ncclRemoteError: return "ncclRemoteError";
    case ncclInProgress: return "ncclInProgress";
  }
  return "unknown ncclResult_t";
}

void check(ncclResult_t r, const char* call) {
  if (r != ncclSuccess) throw PluginError(std::string(call) + " returned " + std::to_string(r) + " (" + result_name(r) + ")");
}

void require(bool ok, const std::string& what) {
  if (!ok) throw CheckError(what);
}

void logger(ncclDebugLogLevel level, unsigned long /*flags*/, const char* file, int line, const char* fmt, ...) {
  if (level > NCCL_LOG_INFO) return;
  std::fprintf(stderr, "[NCCL %s %s:%d] ", level == NCCL_LOG_WARN ? "WARN" : "INFO", file, line);
  va_list ap;
  va_start(ap, fmt);
  std::vfprintf(stderr, fmt, ap);
  va_end(ap);
  std::fputc('\n', stderr);
}

std::vector<long> parse_sizes(const std::string& s) {
  std::vector<long> out;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, ',')) {
    char* end = nullptr;
    long v = std::strtol(item.c_str(), &end, 10);
    if (end != nullptr && (*end == 'K' || *end == 'M')) v <<= (*end == 'K' ? 10 : 20), ++end;
    if (item.empty() || end == nullptr || *end != '\0' || v < 0 || v > (1L << 30)) throw CheckError("bad size '" + item + "'");
    out.push_back(v);
  }
  return out;
}

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) throw CheckError(a + " needs a value");
      return argv[++i];
    };
    if (a == "--plugin") o.plugin = next();
    else if (a == "--net-plugin") o.net_plugin = next();
    else if (a == "--handle-out") o.handle_out = next();
    else if (a == "--handle-in") o.handle_in = next();
    else if (a == "--rank") o.rank = std::stoi(next());
    else if (a == "--sizes") o.sizes = parse_sizes(next());
    else if (a == "--iters") o.iters = std::stoi(next());
    else if (a == "--recvs") o.recvs = std::stoi(next());
    else if (a == "--window") o.window = std::stoi(next());
    else if (a == "--seconds") o.seconds = std::stod(next());
    else if (a == "--bench") o.bench = true;
    else throw CheckError("unknown option " + a);
  }
  if (o.plugin.empty() == o.net_plugin.empty()) throw CheckError("give one of --plugin PATH or --net-plugin NAME");
  if (o.handle_out.empty() || o.handle_in.empty()) throw CheckError("--handle-out and --handle-in are required");
  if (o.recvs < 1 || o.recvs > 8 || o.window < 1 || o.window > NCCL_NET_MAX_REQUESTS || o.iters < 1)
    throw CheckError("--recvs 1..8, --window 1..8, --iters >= 1");
  return o;
}

// The byte a message carries at offset i: a function of (size, round, element) so the receiver can check.
inline uint8_t pattern(uint64_t key, size_t i) {
  uint64_t x = key * 0x9E3779B97F4A7C15ull + (i >> 3);
  x ^= x >> 29;
  x *= 0xBF58476D1CE4E5B9ull;
  x ^= x >> 32;
  return static_cast<uint8_t>(x >> ((i & 7) * 8));
}
uint64_t message_key(long size, long round, int elem) {
  return (static_cast<uint64_t>(size) << 24) ^ (static_cast<uint64_t>(round) << 4) ^ static_cast<uint64_t>(elem);
}
constexpr uint8_t kGuard = 0xA5;

// Shape of one round at a message size: how many elements per irecv, what each posts, the tags.
struct Shape {
  int n = 1;
  std::vector<long> send, posted;
  std::vector<int> tags;
};
Shape shape_for(long size, long round, int recvs) {
  Shape s;
  s.n = size <= (64 << 10) ? recvs : size <= (1 << 20) ? std::min(recvs, 2) : 1;
  for (int e = 0; e < s.n; ++e) {
    // Elements differ in size; the receiver posts 0, 13 or 26 bytes more than is sent.
    const long sz = e == 0 ? size : std::max(0L, size - e * 3);
    s.send.push_back(sz);
    s.posted.push_back(sz + (round + e) % 3 * 13);
    s.tags.push_back(0x40 + e * 7 + static_cast<int>(round % 5));
  }
  return s;
}

struct Harness {
  Options opt;
  const ncclNet_v8_t* net = nullptr;
  void* send_comm = nullptr;
  void* recv_comm = nullptr;
  void* listen_comm = nullptr;
  std::vector<uint8_t> send_arena, recv_arena;
  void* send_mh = nullptr;
  void* recv_mh = nullptr;
  size_t slot_bytes = 0;  // arena bytes per element per window slot
  uint64_t bytes_checked = 0, messages = 0;

  void load() {
    const std::string path = opt.plugin.empty() ? "libnccl-net-" + opt.net_plugin + ".so" : opt.plugin;
    void* lib = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (lib == nullptr) throw CheckError("dlopen " + path + ": " + dlerror());
    net = static_cast<const ncclNet_v8_t*>(dlsym(lib, "ncclNetPlugin_v8"));
    require(net != nullptr, path + " has no ncclNetPlugin_v8");
    std::printf("plugin %s from %s\n", net->name, path.c_str());
    check(net->init(logger), "init");
    int ndev = 0;
    check(net->devices(&ndev), "devices");
    require(ndev >= 1, "the plugin has no device");
    for (int d = 0; d < ndev; ++d) {
      ncclNetProperties_v8_t p{};
      check(net->getProperties(d, &p), "getProperties");
      std::printf("device %d: %s speed %d Mbit/s ptrSupport %d maxRecvs %d maxComms %d\n", d, p.name, p.speed,
                  p.ptrSupport, p.maxRecvs, p.maxComms);
      require((p.ptrSupport & NCCL_PTR_HOST) != 0 && p.maxRecvs >= opt.recvs, "device properties do not allow the test");
    }
  }

  void write_handle(const char* handle) {
    const std::string tmp = opt.handle_out + ".tmp";
    std::ofstream(tmp, std::ios::binary).write(handle, NCCL_NET_HANDLE_MAXSIZE);
    require(std::rename(tmp.c_str(), opt.handle_out.c_str()) == 0, "cannot write " + opt.handle_out);
  }

  std::vector<char> read_file_when_there(const std::string& path, size_t bytes) {
    const auto deadline = Clock::now() + std::chrono::seconds(60);
    for (;;) {
      std::ifstream f(path, std::ios::binary);
      std::vector<char> b(bytes);
      if (f && f.read(b.data(), static_cast<std::streamsize>(bytes))) return b;
      require(Clock::now() < deadline, "the peer's file " + path + " did not appear");
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }

  void connect() {
    char handle[NCCL_NET_HANDLE_MAXSIZE] = {};
    check(net->listen(0, handle, &listen_comm), "listen");
    write_handle(handle);
    std::vector<char> peer = read_file_when_there(opt.handle_in, NCCL_NET_HANDLE_MAXSIZE);
    ncclNetDeviceHandle_v8_t* send_dev = nullptr;
    ncclNetDeviceHandle_v8_t* recv_dev = nullptr;
    const auto deadline = Clock::now() + std::chrono::seconds(60);
    long polls = 0;
    while (send_comm == nullptr || recv_comm == nullptr) {
      if (send_comm == nullptr) check(net->connect(0, peer.data(), &send_comm, &send_dev), "connect");
      if (recv_comm == nullptr) check(net->accept(listen_comm, &recv_comm, &recv_dev), "accept");
      ++polls;
      require(Clock::now() < deadline, "connect/accept did not finish within 60 s");
      std::this_thread::sleep_for(std::chrono::microseconds(100));
    }
    std::printf("connected after %ld polls\n", polls);
    std::fflush(stdout);
  }

  void register_arenas(size_t max_posted) {
    slot_bytes = (max_posted + 63) / 64 * 64;
    const size_t total = std::max<size_t>(64, slot_bytes * static_cast<size_t>(opt.window * opt.recvs));
    send_arena.assign(total, 0);
    recv_arena.assign(total, 0);
    check(net->regMr(send_comm, send_arena.data(), total, NCCL_PTR_HOST, &send_mh), "regMr(send)");
    check(net->regMr(recv_comm, recv_arena.data(), total, NCCL_PTR_HOST, &recv_mh), "regMr(recv)");
  }

  uint8_t* send_buf(long round, int e) { return send_arena.data() + slot_bytes * static_cast<size_t>((round % opt.window) * opt.recvs + e); }
  uint8_t* recv_buf(long round, int e) { return recv_arena.data() + slot_bytes * static_cast<size_t>((round % opt.window) * opt.recvs + e); }

  // One direction's state for `rounds` rounds at `size`.
  struct PendingSend {
    long round;
    int elem;
    void* req;
  };
  struct PendingRecv {
    long round;
    void* req;
  };

  // Runs `rounds` rounds at `size` in the directions this rank takes part in; returns seconds taken.
  double run_size(long size, long rounds, bool do_send, bool do_recv, bool verify) {
    long send_round = 0, send_done_round = 0, recv_round = 0, recv_done_round = 0;
    int send_elem = 0;
    std::deque<PendingSend> sends;
    std::deque<PendingRecv> recvs;
    std::vector<int> send_left(static_cast<size_t>(opt.window), 0);  // outstanding sends per window slot
    const auto start = Clock::now();
    auto last_progress = start;
    const bool all_send = !do_send, all_recv = !do_recv;
    while ((!all_send && send_done_round < rounds) || (!all_recv && recv_done_round < rounds)) {
      bool moved = false;
      // Receive side: post grouped irecvs while the window allows.
      if (do_recv && recv_round < rounds && recv_round < recv_done_round + opt.window) {
        const Shape sh = shape_for(size, recv_round, opt.recvs);
        void* data[8];
        int sizes[8], tags[8];
        void* mhs[8];
        for (int e = 0; e < sh.n; ++e) {
          data[e] = recv_buf(recv_round, e);
          sizes[e] = static_cast<int>(sh.posted[static_cast<size_t>(e)]);
          tags[e] = sh.tags[static_cast<size_t>(e)];
          mhs[e] = recv_mh;
          if (verify) std::memset(data[e], kGuard, static_cast<size_t>(sizes[e]));
        }
        void* req = nullptr;
        check(net->irecv(recv_comm, sh.n, data, sizes, tags, mhs, &req), "irecv");
        if (req != nullptr) {
          recvs.push_back({recv_round++, req});
          moved = true;
        }
      }
      // Send side: the elements of a round in reverse tag order, so the plugin must match tags.
      if (do_send && send_round < rounds && send_round < send_done_round + opt.window) {
        const Shape sh = shape_for(size, send_round, opt.recvs);
        const int e = sh.n - 1 - send_elem;
        uint8_t* buf = send_buf(send_round, e);
        const long sz = sh.send[static_cast<size_t>(e)];
        if (verify) {  // (--bench sends whatever the arena holds: filling would be timed)
          const uint64_t key = message_key(size, send_round, e);
          for (long i = 0; i < sz; ++i) buf[i] = pattern(key, static_cast<size_t>(i));
        }
        void* req = nullptr;
        check(net->isend(send_comm, buf, static_cast<int>(sz), sh.tags[static_cast<size_t>(e)], send_mh, &req), "isend");
        if (req != nullptr) {
          sends.push_back({send_round, e, req});
          ++send_left[static_cast<size_t>(send_round % opt.window)];
          moved = true;
          if (++send_elem == sh.n) {
            send_elem = 0;
            ++send_round;
          }
        }
      }
      // Test the oldest outstanding requests (NCCL tests in order).
      if (!sends.empty()) {
        PendingSend& s = sends.front();
        int done = 0, sent = -1;
        check(net->test(s.req, &done, &sent), "test(send)");
        if (done) {
          const Shape sh = shape_for(size, s.round, opt.recvs);
          require(sent == sh.send[static_cast<size_t>(s.elem)], "test reported " + std::to_string(sent) + " bytes sent, " +
                                                                   std::to_string(sh.send[static_cast<size_t>(s.elem)]) + " were");
          --send_left[static_cast<size_t>(s.round % opt.window)];
          sends.pop_front();
          // A round is done once all its elements were posted (send_round moved past it) and completed.
          while (send_done_round < send_round && send_left[static_cast<size_t>(send_done_round % opt.window)] == 0)
            ++send_done_round;
          moved = true;
        }
      }
      if (!recvs.empty()) {
        PendingRecv& r = recvs.front();
        int done = 0, got[8] = {-1, -1, -1, -1, -1, -1, -1, -1};
        check(net->test(r.req, &done, got), "test(recv)");
        if (done) {
          const Shape sh = shape_for(size, r.round, opt.recvs);
          void* data[8];
          int sizes[8];
          void* mhs[8];
          for (int e = 0; e < sh.n; ++e) {
            const long want = sh.send[static_cast<size_t>(e)];
            require(got[e] == want, "size " + std::to_string(size) + " round " + std::to_string(r.round) + " element " +
                                        std::to_string(e) + ": test reported " + std::to_string(got[e]) + " bytes, the peer sent " +
                                        std::to_string(want));
            data[e] = recv_buf(r.round, e);
            sizes[e] = got[e];
            mhs[e] = recv_mh;
            if (verify) verify_message(size, r.round, e, want, sh.posted[static_cast<size_t>(e)]);
          }
          void* flush = nullptr;
          check(net->iflush(recv_comm, sh.n, data, sizes, mhs, &flush), "iflush");
          for (int f = 0; flush != nullptr && !f;) check(net->test(flush, &f, nullptr), "test(iflush)");
          recvs.pop_front();
          ++recv_done_round;
          ++messages;
          moved = true;
        }
      }
      const auto now = Clock::now();
      if (moved) last_progress = now;
      require(now - last_progress < std::chrono::seconds(60), "no progress for 60 s at size " + std::to_string(size));
    }
    return std::chrono::duration<double>(Clock::now() - start).count();
  }

  void verify_message(long size, long round, int e, long len, long posted) {
    const uint8_t* b = recv_buf(round, e);
    const uint64_t key = message_key(size, round, e);
    for (long i = 0; i < len; ++i)
      if (b[i] != pattern(key, static_cast<size_t>(i)))
        throw CheckError("size " + std::to_string(size) + " round " + std::to_string(round) + " element " + std::to_string(e) +
                         ": byte " + std::to_string(i) + " is " + std::to_string(b[i]) + ", expected " +
                         std::to_string(pattern(key, static_cast<size_t>(i))));
    for (long i = len; i < posted; ++i)
      if (b[i] != kGuard)
        throw CheckError("size " + std::to_string(size) + ": byte " + std::to_string(i) + " past the " + std::to_string(len) +
                         " received bytes was overwritten");
    bytes_checked += static_cast<uint64_t>(len);
  }

  // Both ranks reach this point before closing, so neither closes while the other still needs it.
  void barrier(const std::string& tag) {
    std::ofstream(opt.handle_out + "." + tag) << "x";
    read_file_when_there(opt.handle_in + "." + tag, 1);
  }

  void close() {
    check(net->deregMr(send_comm, send_mh), "deregMr(send)");
    send_mh = nullptr;
    check(net->deregMr(recv_comm, recv_mh), "deregMr(recv)");
    recv_mh = nullptr;
    check(net->closeSend(send_comm), "closeSend");
    send_comm = nullptr;
    check(net->closeRecv(recv_comm), "closeRecv");
    recv_comm = nullptr;
    check(net->closeListen(listen_comm), "closeListen");
    listen_comm = nullptr;
  }

  // After a failed call NCCL tears the communicator down through the same close entry points; doing so
  // here checks that they work on a failed connection and leaves nothing allocated.
  ~Harness() {
    if (net == nullptr) return;
    if (send_mh != nullptr) net->deregMr(send_comm, send_mh);
    if (recv_mh != nullptr) net->deregMr(recv_comm, recv_mh);
    if (send_comm != nullptr) net->closeSend(send_comm);
    if (recv_comm != nullptr) net->closeRecv(recv_comm);
    if (listen_comm != nullptr) net->closeListen(listen_comm);
  }
};

int run(const Options& opt) {
  Harness h;
  h.opt = opt;
  h.load();
  h.connect();
  long max_posted = 64;
  for (long s : opt.sizes) max_posted = std::max(max_posted, s + 26);
  h.register_arenas(static_cast<size_t>(max_posted));
  if (opt.bench) {
    for (long s : opt.sizes) {
      h.run_size(s, 2, opt.rank == 0, opt.rank == 1, false);  // warm-up
      const double t = h.run_size(s, opt.iters, opt.rank == 0, opt.rank == 1, false);
      if (opt.rank == 1)
        std::printf("{\"size\": %ld, \"iters\": %d, \"seconds\": %.6f, \"GBps\": %.3f}\n", s, opt.iters, t,
                    static_cast<double>(s) * opt.iters / t / 1e9);
      std::fflush(stdout);
    }
  } else {
    const auto start = Clock::now();
    long passes = 0;
    do {
      for (long s : opt.sizes) {
        h.run_size(s, opt.iters, true, true, true);
        if (passes == 0) std::printf("size %ld ok\n", s);
        std::fflush(stdout);
      }
      ++passes;
    } while (std::chrono::duration<double>(Clock::now() - start).count() < opt.seconds);
    std::printf("{\"ok\": true, \"passes\": %ld, \"messages\": %" PRIu64 ", \"bytes_checked\": %" PRIu64 "}\n", passes,
                h.messages, h.bytes_checked);
  }
  h.barrier("done");
  h.close();
  std::fflush(stdout);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(parse(argc, argv));
  } catch (const PluginError& e) {
    std::fflush(stdout);
    std::fprintf(stderr, "plugin error: %s\n", e.what());
    return 2;
  } catch (const std::exception& e) {
    std::fflush(stdout);
    std::fprintf(stderr, "check failed: %s\n", e.what());
    return 1;
  }
}
