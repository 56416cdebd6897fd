// The `rfab perf` parameter and result messages as a server reads them from an untrusted client: every
// value parsed strictly, held to the protocol's ranges and to the server's --max-memory.
#include <gtest/gtest.h>

#include <string>

#include "perf_params.hpp"

namespace {
using namespace rfab::cli::perf;

Params sample() {
  Params p;
  p.verb = Verb::write;
  p.size = 65536;
  p.iters = 1000;
  p.qps = 4;
  p.depth = 128;
  p.slots = 128;
  p.rx_depth = 128;
  p.seed = 0xDEADBEEFCAFEull;
  p.recovery = rfab::rc::LossRecovery::selective;
  return p;
}

// The sample's message with `key`'s value replaced by `value`.
std::string with(const std::string& key, const std::string& value) {
  std::string m = encode(sample());
  const size_t at = m.find(" " + key + "=");
  EXPECT_NE(at, std::string::npos) << key;
  const size_t v = at + key.size() + 2;
  return m.replace(v, m.find(' ', v) == std::string::npos ? std::string::npos : m.find(' ', v) - v, value);
}

std::string error_of(const std::string& text) {
  try {
    (void)decode(text);
  } catch (const ParamsError& e) {
    return e.what();
  }
  return "";
}

TEST(PerfParams, RoundTrips) {
  const Params p = decode(encode(sample()));
  EXPECT_EQ(p.size, 65536u);
  EXPECT_EQ(p.iters, 1000u);
  EXPECT_EQ(p.qps, 4u);
  EXPECT_EQ(p.seed, 0xDEADBEEFCAFEull);
  EXPECT_EQ(p.recovery, rfab::rc::LossRecovery::selective);
  EXPECT_NO_THROW(check_params(p, kDefaultMaxMemory));
}

// Each row: a key, a hostile value, and what the refusal must name.
TEST(PerfParams, HostileValuesAreRefusedNamingTheKey) {
  const struct {
    const char* key;
    const char* value;
    const char* names;
  } rows[] = {
      {"size", "-1", "size"},
      {"size", "abc", "size"},
      {"size", "99999999999", "size"},
      {"size", "", "size"},
      {"iters", "99999999999999999999", "iters"},
      {"iters", "1e3", "iters"},
      {"duration", "nan", "duration"},
      {"duration", "inf", "duration"},
      {"duration", "-5", "duration"},
      {"duration", "1e300", "duration"},
      {"qps", "0", "qps"},
      {"qps", "4294967297", "qps"},
      {"qps", "100000", "qps"},
      {"mtu", "1500", "mtu"},
      {"mtu", "0", "mtu"},
      {"spray", "0", "spray"},
      {"spray", "65536", "spray"},
      {"depth", "0", "depth"},
      {"depth", "1000000", "depth"},
      {"slots", "0", "slots"},
      {"rx_depth", "4294967295", "rx_depth"},
      {"latency", "2", "latency"},
      {"seed", "-1", "seed"},
      {"recovery", "fast", "recovery"},
      {"verb", "erase", "verb"},
  };
  for (const auto& r : rows) {
    const std::string err = error_of(with(r.key, r.value));
    EXPECT_NE(err.find(r.names), std::string::npos) << r.key << "=" << r.value << ": '" << err << "'";
  }
}

TEST(PerfParams, MalformedMessagesAreRefused) {
  EXPECT_NE(error_of("").find("not an rfab perf peer"), std::string::npos);
  EXPECT_NE(error_of("GET / HTTP/1.1").find("not an rfab perf peer"), std::string::npos);
  EXPECT_NE(error_of("rfab-perf/1 verb=write").find("lack"), std::string::npos);
  EXPECT_NE(error_of(encode(sample()) + " size=1").find("twice"), std::string::npos);
  EXPECT_NE(error_of(encode(sample()) + " evil=1").find("unknown client parameter 'evil'"), std::string::npos);
  EXPECT_NE(error_of(encode(sample()) + " junk").find("not key=value"), std::string::npos);
  EXPECT_NE(error_of(std::string(kMaxParamsMessage + 1, 'x')).find("at most"), std::string::npos);
}

TEST(PerfParams, ServerMemoryLimitIsHeld) {
  Params p = sample();
  p.size = 1ull << 31;  // 2 GiB WRITE target on the server
  p.qps = 1;
  EXPECT_NO_THROW(check_params(p, 4ull << 30));
  try {
    check_params(p, 1ull << 30);
    FAIL() << "2 GiB accepted under a 1 GiB limit";
  } catch (const ParamsError& e) {
    EXPECT_NE(std::string(e.what()).find("needs 2.0 GiB of buffers and queues"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("--max-memory is 1GiB"), std::string::npos) << e.what();
  }
  // SEND: size x QPs x receive slots; 2 GiB x 1024 x 4096 overflows nothing and is refused.
  p.verb = Verb::send;
  p.qps = 1024;
  p.depth = p.slots = p.rx_depth = 4096;
  EXPECT_THROW(check_params(p, kDefaultMaxMemory), ParamsError);
  EXPECT_GT(*buffer_bytes(p, true), kDefaultMaxMemory);
  // Tiny messages on many deep QPs: the buffers are small, the queues are not (1.1 GB measured).
  p.size = 1;
  EXPECT_LT(*buffer_bytes(p, true), 8ull << 20);
  EXPECT_GT(queue_bytes(p), 1ull << 30);
  EXPECT_THROW(check_params(p, 64ull << 20), ParamsError);
}

TEST(PerfParams, InconsistentValuesAreRefused) {
  Params p = sample();
  p.slots = p.depth + 1;
  EXPECT_THROW(check_params(p, kDefaultMaxMemory), ParamsError);
  p = sample();
  p.iters = 0;
  EXPECT_THROW(check_params(p, kDefaultMaxMemory), ParamsError);
  p = sample();
  p.verb = Verb::atomic;
  p.size = 4096;
  EXPECT_THROW(check_params(p, kDefaultMaxMemory), ParamsError);
}

TEST(PerfParams, ResultLineIsParsedStrictly) {
  const ResultLine r{true, {3, 4}, 1.5, 1.25, 0.001};
  const ResultLine back = decode_result(encode_result(r), 2, 10);
  EXPECT_TRUE(back.done);
  EXPECT_EQ(back.completed, (std::vector<uint64_t>{3, 4}));
  EXPECT_DOUBLE_EQ(back.bw_avg_gbps, 1.25);
  EXPECT_THROW(decode_result("done 3 1 1 1", 2, 10), ParamsError);        // a count missing
  EXPECT_THROW(decode_result("done 3 11 1 1 1", 2, 10), ParamsError);     // above the iterations
  EXPECT_THROW(decode_result("done 3 -1 1 1 1", 2, 10), ParamsError);
  EXPECT_THROW(decode_result("done 3 4 nan 1 1", 2, 10), ParamsError);
  EXPECT_THROW(decode_result("maybe 3 4 1 1 1", 2, 10), ParamsError);
  EXPECT_FALSE(decode_result("failed 0 0 0 0 0", 2, 10).done);
}

}  // namespace
