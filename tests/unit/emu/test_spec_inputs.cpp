// Every key of the topology and traffic specs (`rfab emulate --topo/--traffic`) and every field of a
// connection-matrix line refuses what it cannot mean -- NaN, infinities, negatives, garbage, values past
// its type or range, and 0 where 0 means nothing -- with an error naming the key (or file and line).
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "rfab/emu/budget.hpp"
#include "rfab/emu/traffic.hpp"
#include "rfab/topology/fat_tree.hpp"
#include "rfab/topology/spec.hpp"

using namespace rfab;

namespace {

const std::vector<std::string> kAlwaysBad = {"nan", "NaN", "-inf", "-1", "abc", "1x", "18446744073709551616",
                                             "1e400", "0x"};

struct Key {
  std::string base;   // the spec the key is added to
  std::string key;
  std::string named;  // what the error must mention
  bool zero_ok;       // 0 is a meaningful value
  std::vector<std::string> also_bad;
};

// Returns the error, or "" when the spec was accepted.
template <class F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const std::exception& e) {
    return e.what();
  }
  return {};
}

const std::vector<Key> kTopologyKeys = {
    {"fat-tree:", "k", "'k'", false, {"4294967298", "4097", "inf"}},
    {"fat-tree:", "radix", "'radix'", false, {"4294967298", "inf"}},
    {"fat-tree:", "tiers", "'tiers'", false, {"4294967298", "4", "inf"}},
    {"fat-tree:k=4,", "hosts", "'hosts'", false, {"inf"}},
    {"fat-tree:k=4,", "oversub", "'oversub'", false, {"4294967298", "inf"}},
    {"fat-tree:k=4,", "rails", "'rails'", true, {"4294967298", "65", "inf"}},
    {"fat-tree:k=4,", "speed", "'speed'", false, {"inf", "1e16"}},
    {"fat-tree:k=4,", "host-speed", "'host-speed'", false, {"inf", "1e16"}},
    {"fat-tree:", "switch", "'switch'", false, {"inf", "1e16"}},
    {"fat-tree:k=4,", "latency", "'latency'", true, {"inf", "1", "18446744073709551616s"}},
};

TEST(SpecInputs, EveryTopologyKeyRefusesWhatItCannotMean) {
  for (const Key& k : kTopologyKeys) {
    auto values = kAlwaysBad;
    values.insert(values.end(), k.also_bad.begin(), k.also_bad.end());
    if (!k.zero_ok) values.push_back("0");
    for (const auto& v : values) {
      const std::string spec = k.base + k.key + "=" + v;
      const std::string err = error_of([&] { topo::FatTree t(topo::parse_fat_tree(spec)); });
      EXPECT_NE(err, "") << spec << " was accepted";
      EXPECT_NE(err.find(k.named), std::string::npos) << spec << ": " << err;
    }
    if (k.zero_ok) {
      EXPECT_EQ(error_of([&] { topo::FatTree t(topo::parse_fat_tree(k.base + k.key + "=0")); }), "") << k.key;
    }
  }
}

TEST(SpecInputs, ZeroIsNotReadAsDeriveIt) {
  // k=0 and hosts=0 used to mean "derive": a 524,288-host tree from a typo.
  for (const char* spec : {"fat-tree:k=0", "fat-tree:hosts=0", "fat-tree:tiers=0", "fat-tree:k=4,oversub=0"})
    EXPECT_NE(error_of([&] { topo::parse_fat_tree(spec); }), "") << spec;
  // Leaving them out still derives them.
  topo::FatTree t(topo::parse_fat_tree("fat-tree:speed=400G"));
  EXPECT_EQ(t.radix(), 128u);
}

const std::vector<Key> kTrafficKeys = {
    {"permutation:", "bytes", "bytes", false, {}},
    {"all-to-all:", "bytes", "bytes", false, {}},
    {"incast:", "bytes", "bytes", false, {}},
    {"incast:", "n", "incast n", false, {"4294967298", "16"}},  // k=4: 16 hosts, at most 15 senders
    {"incast:", "dst", "incast dst", true, {"4294967298", "16", "inf"}},
    {"ring:", "bytes", "bytes", false, {}},
    {"ring:", "steps", "ring steps", false, {"4294967298", "31", "inf"}},  // 2(H-1) = 30
};

TEST(SpecInputs, EveryTrafficKeyRefusesWhatItCannotMean) {
  const topo::FatTree tree(topo::parse_fat_tree("fat-tree:k=4"));
  for (const Key& k : kTrafficKeys) {
    auto values = kAlwaysBad;
    values.insert(values.end(), k.also_bad.begin(), k.also_bad.end());
    if (!k.zero_ok) values.push_back("0");
    for (const auto& v : values) {
      const std::string spec = k.base + k.key + "=" + v;
      const std::string err = error_of([&] { emu::make_traffic(spec, tree, 1); });
      EXPECT_NE(err, "") << spec << " was accepted";
      EXPECT_NE(err.find(k.named), std::string::npos) << spec << ": " << err;
    }
    if (k.zero_ok) {
      EXPECT_EQ(error_of([&] { emu::make_traffic(k.base + k.key + "=0", tree, 1); }), "") << k.key;
    }
  }
  // Long-lived flows are written "inf", not 0.
  EXPECT_EQ(emu::make_traffic("permutation:bytes=inf", tree, 1).front().bytes, emu::kUnlimited);
}

TEST(SpecInputs, EveryMatrixFieldRefusesWhatItCannotMean) {
  const std::vector<std::pair<int, std::vector<std::string>>> fields = {
      {0, {"16", "4294967298"}}, {1, {"16", "4294967298"}}, {2, {"0", "inf0"}}, {3, {"inf", "5"}}};
  for (const auto& [field, extra] : fields) {
    auto values = kAlwaysBad;
    values.insert(values.end(), extra.begin(), extra.end());
    for (const auto& v : values) {
      std::vector<std::string> f = {"1", "2", "64K", "0"};
      f[size_t(field)] = v;
      const std::string text = "# a comment\n0 1 4K 0\n" + f[0] + " " + f[1] + " " + f[2] + " " + f[3] + "\n";
      const std::string err = error_of([&] { emu::parse_matrix(text, "m.txt", 16); });
      EXPECT_NE(err.find("m.txt:3: "), std::string::npos) << "field " << field << " = " << v << ": " << err;
    }
  }
}

TEST(SpecInputs, MatrixFilesAreBounded) {
  const topo::FatTree tree(topo::parse_fat_tree("fat-tree:k=4"));
  // An endless line (a device, a binary file) stops at the line limit, naming file and line.
  std::string err = error_of([&] { emu::make_traffic("file:/dev/zero", tree, 1); });
  EXPECT_NE(err.find("/dev/zero:1: line longer than"), std::string::npos) << err;
  const auto path = std::filesystem::temp_directory_path() / ("rfab-matrix-" + std::to_string(getpid()));
  {
    std::ofstream f(path);
    f << "0 1 4K 0\n1 2 4K 0\n" << std::string(emu::kMaxMatrixLineBytes + 1, '#') << "\n";
  }
  err = error_of([&] { emu::make_traffic("file:" + path.string(), tree, 1); });
  EXPECT_NE(err.find(path.string() + ":3: line longer than"), std::string::npos) << err;
  std::filesystem::remove(path);
  // The text limits hold for parse_matrix too.
  err = error_of([&] { emu::parse_matrix(std::string(emu::kMaxMatrixBytes + 1, '\n'), "big.txt", 16); });
  EXPECT_NE(err.find("big.txt: larger than"), std::string::npos) << err;
}

TEST(SpecInputs, FlowCountIsKnownBeforeTheFlowsAreBuilt) {
  const topo::FatTree tree(topo::parse_fat_tree("fat-tree:k=4"));
  for (const char* spec : {"permutation:bytes=1M", "all-to-all:bytes=1M", "incast:n=5,bytes=1M", "ring:bytes=1M",
                           "ring:bytes=1M,steps=3"})
    EXPECT_EQ(emu::traffic_flow_count(spec, tree), emu::make_traffic(spec, tree, 1).size()) << spec;
  // A k=1024 tree has 268M hosts: its permutation is counted, not built.
  const topo::FatTree big(topo::parse_fat_tree("fat-tree:k=1024"));
  EXPECT_EQ(emu::traffic_flow_count("permutation", big), 268435456u);
  EXPECT_GT(emu::estimate_memory(big, emu::EmuConfig{}, emu::StackKind::paced, 268435456u), 64ull << 30);
}

}  // namespace
