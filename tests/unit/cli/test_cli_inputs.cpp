// Every numeric flag of every `rfab` subcommand, found by walking the real option tables (app.cpp), is fed
// the values no flag may take -- NaN, infinities, negatives, garbage, values past its type and past its
// bounds, and 0 where 0 means nothing -- and must refuse each with exit status 2 and a message naming the
// flag. A new flag is covered without touching this file, unless it takes text (then it must be listed
// in kTextOptions, where a reviewer sees it) or accepts 0 (then it must be listed in kZeroMeaningful).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <functional>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "app.hpp"
#include "checked_options.hpp"
#include "rfab/base/units.hpp"
#include "test_support.hpp"

using rfab::cli::CheckedOption;
using rfab::cli::ValueKind;

namespace {

const std::string kRfab = RFAB_CLI;

// Options that take free text (names, paths, addresses, specs: the spec keys have their own table test in
// tests/unit/emu/test_spec_inputs.cpp). Keyed "<subcommand path> <option name>"; perf verbs as "perf *".
const std::set<std::string> kTextOptions = {
    "decode file", "decode --filter", "decode --opcode", "synth out",
    "gen --pcap-out", "gen --dpdk-args", "gen --afxdp", "gen --mix", "gen --src-mac", "gen --dst-mac", "gen --src-ip",
    "gen --dst-ip", "collect --dpdk-args",
    "doctor --peers", "doctor --sys-root", "doctor --proc-root", "doctor --iface", "softroce up iface", "softroce up --name", "softroce down names",
    "softroce shell --iface", "softroce shell --lib", "softroce shell program",
    "collect --iface", "collect --hook", "collect --prometheus", "collect --json-file", "collect --rdma-sysfs",
    "validate --iface", "validate --hook", "validate --from",
    "perf * host", "perf * --faults", "perf * --cc", "perf * --recovery", "perf * --local", "perf * --device",
    "perf * --datapath", "perf * --iface", "perf * --xdp-mode", "perf * --xsk-copy", "perf * --dpdk-args",
    "emulate --topo", "emulate --routing", "emulate --cc", "emulate --pfc", "emulate --traffic", "emulate --hosts",
    "emulate --engine", "emulate --telemetry", "emulate --fail", "emulate --report", "emulate --compare",
    "emulate --prometheus", "emulate --partitions",  // N or mpi: test_emu_partitions.cpp checks its values
    "emulate --calibrate",
    "coll collective", "coll --datatype", "coll --op", "coll --algo",
    "run --bind-to", "run program",
    "ping --hosts", "ping --nodelist", "ping --self", "ping --prometheus", "ping --device",
};

// Numeric options for which 0 is a meaningful value (and what it means).
const std::set<std::string> kZeroMeaningful = {
    "decode --qp",            // QP number 0
    "synth --vlan",           // VLAN 0: priority-tagged frames
    "gen --size",             // zero-length operations
    "gen --dpdk-port", "collect --dpdk-port",  // ethdev port 0
    "gen --seed",             // a seed
    "gen --start-psn",        // PSN 0
    "softroce up --wait-ms",  // do not wait for ACTIVE
    "collect --hole-timeout", "validate --hole-timeout",  // no time bound: only the PSN window loses holes
    "validate --settle",      // no settle time
    "emulate --warmup",       // measure the whole run
    "emulate --prometheus-hold",  // stop serving when the run ends
    "emulate --calibrate-warmup",  // measure the sample's whole run
    "validate --min-gbps",    // no throughput floor: gate on loss, NAKs and CNPs only
    "validate --max-loss", "validate --max-naks", "validate --max-cnps",  // tolerate none
    "perf * --size",          // zero-length operations, valid RDMA (and tested by test_perf)
    "perf * --busy-poll",     // no busy polling
    "perf * --retry-cnt",     // no retries
    "perf * --gid-index",     // GID 0
    "perf * --xsk-queue",     // receive queue 0
    "perf * --dpdk-port",     // ethdev port 0
    "emulate --seed",         // a seed
    "emulate --spray",        // one UDP source port per flow
    "coll --warmup_iters", "coll --check", "coll --root",
    "run --timeout",          // no time limit
    "ping --seed",            // a seed
};

// Values for the required options and positionals, so a parse fails only for the value under test.
std::vector<std::string> required_value(const std::string& key) {
  if (key == "decode file") return {"x.pcap"};
  if (key == "synth out") return {"x.pcap"};
  if (key == "softroce up iface") return {"lo"};
  if (key == "collect --iface" || key == "validate --iface") return {"lo"};
  if (key == "collect --hook") return {"tc"};
  if (key == "coll collective") return {"allreduce"};
  if (key == "run --nranks") return {"1"};
  if (key == "run program") return {"--", "true"};
  if (key == "softroce shell program") return {"--", "true"};
  return {};
}

struct Flag {
  std::vector<std::string> path;  // subcommand names
  std::string name;               // the option's name (--long, or a positional's name)
  std::string key;                // "<path> <name>", perf verbs as "*"
  std::optional<CheckedOption> spec;
  bool positional = false;
  bool required = false;
};

std::string key_of(const std::vector<std::string>& path, const std::string& name) {
  std::string k;
  for (size_t i = 0; i < path.size(); ++i) k += (i == 1 && path[0] == "perf" ? std::string("*") : path[i]) + " ";
  return k + name;
}

// Thrown once a command line has been parsed and validated, before any subcommand runs: only parsing is
// under test here. (The subcommands' own callbacks hold their option variables, so they stay.)
struct Accepted {};

std::unique_ptr<CLI::App> make_app() {
  auto app = std::make_unique<CLI::App>("rfab", "rfab");
  rfab::cli::build_app(*app);
  app->parse_complete_callback([] { throw Accepted{}; });
  return app;
}

std::vector<Flag> all_flags(CLI::App& app) {
  std::vector<Flag> out;
  std::function<void(CLI::App*, std::vector<std::string>)> walk = [&](CLI::App* a, std::vector<std::string> path) {
    for (CLI::App* s : a->get_subcommands([](CLI::App*) { return true; })) {
      auto p = path;
      p.push_back(s->get_name());
      for (const CLI::Option* o : s->get_options()) {
        if (o->get_items_expected_max() == 0) continue;  // a flag (--json, --help): takes no value
        Flag f;
        f.path = p;
        f.positional = o->get_positional() && o->get_lnames().empty() && o->get_snames().empty();
        f.name = f.positional ? o->get_name() : o->get_name(false, false);
        if (!o->get_lnames().empty()) f.name = "--" + o->get_lnames().front();
        f.key = key_of(p, f.name);
        f.required = o->get_required();
        if (const CheckedOption* c = rfab::cli::checked_option(const_cast<CLI::Option*>(o))) f.spec = *c;
        out.push_back(f);
      }
      walk(s, p);
    }
  };
  walk(&app, {});
  return out;
}

// Arguments that set every required option of `f`'s subcommand (but `f`) and give `f` the value `v`.
std::vector<std::string> args_for(CLI::App& app, const Flag& f, const std::string& v) {
  std::vector<std::string> args = f.path, tail;
  for (const Flag& g : all_flags(app)) {
    if (g.path != f.path || !g.required || g.key == f.key) continue;
    auto val = required_value(g.key);
    if (g.positional) tail.insert(tail.end(), val.begin(), val.end());
    else if (!val.empty()) args.insert(args.end(), {g.name, val[0]});
  }
  args.push_back(f.name + "=" + v);
  args.insert(args.end(), tail.begin(), tail.end());
  return args;
}

// Parses in-process; returns the error message, or "" when the command line was accepted.
std::string parse(const std::vector<std::string>& args) {
  auto app = make_app();
  std::vector<const char*> argv{"rfab"};
  for (const auto& a : args) argv.push_back(a.c_str());
  try {
    app->parse(static_cast<int>(argv.size()), argv.data());
  } catch (const CLI::ParseError& e) {
    return e.what()[0] ? e.what() : "error";
  } catch (const Accepted&) {
    return {};
  }
  ADD_FAILURE() << "the parse ran past its end";
  return {};
}

std::string shell_quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

std::vector<std::string> bad_values(const CheckedOption& s) {
  std::vector<std::string> v = {"nan", "NaN", "inf", "-inf", "-1", "", "abc", "1x", "18446744073709551616", "1e400"};
  const bool integral = s.kind == ValueKind::integer || s.kind == ValueKind::size || s.kind == ValueKind::duration;
  if (integral ? s.int_hi < 4294967298ull : s.hi < 4294967298.0)
    v.push_back(s.kind == ValueKind::duration ? "4294967298s" : "4294967298");
  switch (s.kind) {
    case ValueKind::integer:
    case ValueKind::size:
      if (s.int_hi < UINT64_MAX) v.push_back(std::to_string(s.int_hi + 1));
      break;
    case ValueKind::duration: v.push_back(std::to_string(s.int_hi + 1) + "ns"); break;
    case ValueKind::fraction: v.push_back("1.5"); break;
    case ValueKind::number:
    case ValueKind::seconds:
    case ValueKind::rate: v.push_back(rfab::format_number(s.hi * 2 + 1)); break;
  }
  return v;
}

bool rejects_zero(const CheckedOption& s) {
  switch (s.kind) {
    case ValueKind::integer:
    case ValueKind::size:
    case ValueKind::duration: return s.int_lo > 0;
    case ValueKind::fraction: return false;
    default: return s.lo > 0 || s.lo_open;
  }
}

class CliInputs : public ::testing::Test {
 protected:
  std::unique_ptr<CLI::App> app_ = make_app();
  std::vector<Flag> flags_ = all_flags(*app_);
};

TEST_F(CliInputs, EveryValueOptionIsCheckedOrKnownText) {
  ASSERT_GT(flags_.size(), 60u);  // the walk found the tables
  size_t checked = 0;
  for (const Flag& f : flags_) {
    if (f.spec) {
      ++checked;
      EXPECT_EQ(kTextOptions.count(f.key), 0u) << f.key << " is checked: remove it from kTextOptions";
    } else {
      EXPECT_EQ(kTextOptions.count(f.key), 1u)
          << f.key << " takes a value but is not declared through checked_options.hpp (add_integer, add_size, ...); "
          << "if it is free text, list it in kTextOptions";
    }
  }
  EXPECT_GT(checked, 40u);
}

// In-process, for speed and for the reason of a failure; the binary is run for the same values below.
TEST_F(CliInputs, EveryNumericFlagRefusesWhatItCannotMean) {
  for (const Flag& f : flags_) {
    if (!f.spec) continue;
    for (const std::string& v : bad_values(*f.spec)) {
      const std::string err = parse(args_for(*app_, f, v));
      EXPECT_FALSE(err.empty()) << f.key << " accepted \"" << v << "\"";
      EXPECT_NE(err.find(f.name), std::string::npos) << f.key << "=" << v << ": the error does not name the flag: " << err;
    }
  }
}

TEST_F(CliInputs, ZeroIsRefusedWhereItMeansNothing) {
  for (const Flag& f : flags_) {
    if (!f.spec) continue;
    const std::string err = parse(args_for(*app_, f, "0"));
    if (kZeroMeaningful.count(f.key)) {
      EXPECT_FALSE(rejects_zero(*f.spec)) << f.key << " refuses 0: remove it from kZeroMeaningful";
      EXPECT_EQ(err, "") << f.key << "=0 should be accepted";
    } else {
      EXPECT_TRUE(rejects_zero(*f.spec) || f.spec->kind == ValueKind::fraction)
          << f.key << " accepts 0: raise its lower bound, or list it in kZeroMeaningful saying what 0 means";
      if (f.spec->kind != ValueKind::fraction) {
        EXPECT_NE(err, "") << f.key << " accepted 0";
      }
    }
  }
}

// Through the built binary and main(): exit status 2 and the flag named, for every flag and bad value.
// Under AddressSanitizer every process start costs about a second, and the whole table (the in-process
// test's values, one process each) outgrows a test's time limit; there each flag's first two bad values
// run as processes, and the in-process test still feeds every value.
#if defined(__SANITIZE_ADDRESS__)
constexpr size_t kValuesPerFlag = 2;
#else
constexpr size_t kValuesPerFlag = SIZE_MAX;
#endif

TEST_F(CliInputs, TheBinaryExitsTwoNamingTheFlag) {
  size_t runs = 0, checked = 0;
  for (const Flag& f : flags_) {
    if (!f.spec) continue;
    ++checked;
    auto values = bad_values(*f.spec);
    if (rejects_zero(*f.spec)) values.push_back("0");
    if (values.size() > kValuesPerFlag) values.resize(kValuesPerFlag);
    for (const std::string& v : values) {
      const auto args = args_for(*app_, f, v);
      if (parse(args).empty()) continue;  // reported by the in-process test; do not run the command
      std::string cmd = kRfab;
      for (const auto& a : args) cmd += " " + shell_quote(a);
      int rc = 0;
      const std::string out = rfab::test::run_command(cmd + " 2>&1 </dev/null", &rc);
      EXPECT_EQ(rc, 2) << cmd << "\n" << out;
      EXPECT_NE(out.find(f.name), std::string::npos) << cmd << "\n" << out;
      ++runs;
    }
  }
  EXPECT_GE(runs, checked);  // every checked flag ran at least once
  if (kValuesPerFlag == SIZE_MAX) {
    EXPECT_GT(runs, 400u);
  }
}

TEST(CliCommands, UnknownSubcommandsAreNamedWithExitTwo) {
  struct Case {
    const char* args;
    const char* named;
  };
  for (const Case& c : {Case{"nosuchcmd", "unknown command 'nosuchcmd'"}, Case{"frobnicate --help", "unknown command 'frobnicate'"},
                        Case{"softroce list", "rfab softroce: unknown command 'list'"},
                        Case{"perf bogus 127.0.0.1", "rfab perf: unknown command 'bogus'"}}) {
    int rc = 0;
    const std::string out = rfab::test::run_command(kRfab + " " + c.args + " 2>&1", &rc);
    EXPECT_EQ(rc, 2) << c.args << "\n" << out;
    EXPECT_NE(out.find(c.named), std::string::npos) << c.args << "\n" << out;
    EXPECT_NE(out.find("commands: "), std::string::npos) << "the valid names are listed: " << out;
  }
  // A known command still gets its help.
  int rc = 0;
  const std::string out = rfab::test::run_command(kRfab + " emulate --help 2>&1", &rc);
  EXPECT_EQ(rc, 0);
  EXPECT_NE(out.find("--max-memory"), std::string::npos);
}

}  // namespace
