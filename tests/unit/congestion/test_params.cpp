// DCQCN parameter presets, spec parsing with clear errors, describe() round trip, controller factory.
#include <gtest/gtest.h>

#include <string>

#include "rfab/congestion/dcqcn_params.hpp"
#include "rfab/congestion/factory.hpp"
#include "rfab/congestion/reaction_point.hpp"
#include "rfab/base/spec.hpp"

namespace rfab::cc {
namespace {

std::string error_of(const char* text) {
  try {
    parse_dcqcn(text);
  } catch (const spec::SpecError& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(DcqcnParams, PaperPreset) {
  const DcqcnParams p = dcqcn_paper();
  EXPECT_EQ(p.g, 1.0 / 256);
  EXPECT_EQ(p.alpha_period, 55_us);
  EXPECT_EQ(p.rate_period, 55_us);
  EXPECT_EQ(p.byte_counter, 10'000'000u);
  EXPECT_EQ(p.fast_recovery, 5u);
  EXPECT_EQ(p.rai_bps, 40e6);
  EXPECT_EQ(p.rhai_bps, 200e6);
  EXPECT_EQ(p.cnp_interval, 50_us);
  EXPECT_EQ(p.red, (RedParams{5000, 200000, 0.01}));
  EXPECT_TRUE(p.clamp_target);
}

TEST(DcqcnParams, ConnectXPreset) {
  const DcqcnParams p = dcqcn_connectx();
  EXPECT_EQ(p.g, 5.0 / 1024);  // dce_tcp_g = 1019
  EXPECT_EQ(p.initial_alpha, 1023.0 / 1024);
  EXPECT_EQ(p.alpha_period, 1_us);
  EXPECT_EQ(p.rate_period, 300_us);
  EXPECT_EQ(p.byte_counter, 32767u * 64);  // 2,097,088 B
  EXPECT_EQ(p.fast_recovery, 1u);
  EXPECT_EQ(p.rai_bps, 5e6);
  EXPECT_EQ(p.rhai_bps, 50e6);
  EXPECT_EQ(p.min_rate_bps, 1e6);
  EXPECT_EQ(p.reduce_period, 4_us);
  EXPECT_EQ(p.cnp_interval, 4_us);
  EXPECT_FALSE(p.clamp_target);
}

TEST(DcqcnParams, ParseAppliesPresetThenOverrides) {
  EXPECT_EQ(parse_dcqcn("dcqcn"), dcqcn_paper());
  EXPECT_EQ(parse_dcqcn("dcqcn:preset=paper"), dcqcn_paper());
  EXPECT_EQ(parse_dcqcn("dcqcn:preset=connectx"), dcqcn_connectx());

  // The preset applies first wherever it is written.
  const DcqcnParams p = parse_dcqcn("dcqcn:g=0.5,preset=connectx,kmin=10KiB,pmax=2%,rai=10Mbps,clamp=on");
  DcqcnParams want = dcqcn_connectx();
  want.g = 0.5;
  want.red.kmin_bytes = 10240;
  want.red.pmax = 0.02;
  want.rai_bps = 10e6;
  want.clamp_target = true;
  EXPECT_EQ(p, want);

  const DcqcnParams q = parse_dcqcn(
      "dcqcn:preset=paper,g=0.00390625,kmin=5KB,kmax=400KB,alpha_period=1ms,rate_period=1500us,"
      "byte_counter=150KB,f=3,rhai=1G,min_rate=100M,reduce_period=0ns,cnp_interval=25us,alpha0=0.5");
  EXPECT_EQ(q.red.kmin_bytes, 5120u);  // K is 1024 in every rfab spec (docs/units.md)
  EXPECT_EQ(q.red.kmax_bytes, 409600u);
  EXPECT_EQ(q.alpha_period, 1_ms);
  EXPECT_EQ(q.rate_period, 1500_us);
  EXPECT_EQ(q.byte_counter, 153600u);
  EXPECT_EQ(q.fast_recovery, 3u);
  EXPECT_EQ(q.rhai_bps, 1e9);
  EXPECT_EQ(q.min_rate_bps, 100e6);
  EXPECT_EQ(q.reduce_period, 0u);
  EXPECT_EQ(q.cnp_interval, 25_us);
  EXPECT_EQ(q.initial_alpha, 0.5);
}

TEST(DcqcnParams, ErrorsNameTheKeyAndTheValue) {
  EXPECT_EQ(error_of("dcqcn:g=abc"),
            "dcqcn spec: bad value \"abc\" for key \"g\": expected a number");
  EXPECT_NE(error_of("dcqcn:g=2").find("expected a gain in (0, 1]"), std::string::npos);
  EXPECT_NE(error_of("dcqcn:foo=1").find("unknown key \"foo\""), std::string::npos);
  EXPECT_NE(error_of("dcqcn:preset=mellanox").find("bad value \"mellanox\" for key \"preset\""), std::string::npos);
  EXPECT_NE(error_of("dcqcn:rate_period=55").find("missing unit"), std::string::npos);
  EXPECT_NE(error_of("dcqcn:rai=40MB/s").find("bits per second"), std::string::npos);
  EXPECT_NE(error_of("dcqcn:kmin=300KB").find("kmin (300KiB) is larger than kmax (200000B)"), std::string::npos);
  EXPECT_NE(error_of("dcqcn:pmax=150%").find("key \"pmax\""), std::string::npos);
  EXPECT_NE(error_of("dcqcn:g").find("\"g\" is not key=value"), std::string::npos);
  EXPECT_NE(error_of("dcqcn:g=0.1,g=0.2").find("given twice"), std::string::npos);
  EXPECT_NE(error_of("dcqcn:g=0.1,,f=2").find("empty item"), std::string::npos);
  EXPECT_NE(error_of("timely").find("does not start with \"dcqcn\""), std::string::npos);
}

TEST(DcqcnParams, DescribeRoundTrips) {
  for (const DcqcnParams& p : {dcqcn_paper(), dcqcn_connectx()}) {
    EXPECT_EQ(parse_dcqcn(describe(p)), p) << describe(p);
  }
  DcqcnParams odd = dcqcn_paper();
  odd.g = 1.0 / 3;
  odd.rai_bps = 12345.5;
  odd.alpha_period = 1234;
  odd.byte_counter = 1023;
  EXPECT_EQ(parse_dcqcn(describe(odd)), odd) << describe(odd);
}

TEST(Factory, BuildsControllersFromSpecs) {
  auto none = make_controller("none", 25e9);
  EXPECT_EQ(none->rate_bps(0), 25e9);
  EXPECT_EQ(none->next_timer(), kNever);

  auto cx = make_controller("dcqcn:preset=connectx", 100e9);
  auto* rp = dynamic_cast<DcqcnReactionPoint*>(cx.get());
  ASSERT_NE(rp, nullptr);
  EXPECT_EQ(rp->params(), dcqcn_connectx());
  cx->on_cnp(0);
  EXPECT_LT(cx->rate_bps(0), 100e9);

  EXPECT_THROW(make_controller("cubic", 1e9), spec::SpecError);
  try {
    make_controller("dcqcn:min_rate=200G", 100e9);
    ADD_FAILURE() << "min_rate above the line rate was accepted";
  } catch (const spec::SpecError& e) {
    EXPECT_NE(std::string(e.what()).find("exceeds the line rate"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace rfab::cc
