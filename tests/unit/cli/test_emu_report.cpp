// `rfab emulate --report`: the timeline it is drawn from (sample count, totals equal to the run's), the HTML
// (every chart present with data, user text escaped), and the page rendered by headless Chromium with every
// chart's colours on screen.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>

#include "emu_report.hpp"
#include "rfab/emu/scenario.hpp"
#include "test_support.hpp"

namespace {

using rfab::emu::Report;
using rfab::emu::ScenarioSpec;

const std::string kRfab = RFAB_CLI;

size_t count(const std::string& s, const std::string& what) {
  size_t n = 0;
  for (size_t p = s.find(what); p != std::string::npos; p = s.find(what, p + 1)) ++n;
  return n;
}

std::string tmp(const std::string& name) {
  return (std::filesystem::temp_directory_path() / ("rfab-report-" + std::to_string(getpid()) + "-" + name)).string();
}

Report sampled_run(uint32_t samples) {
  ScenarioSpec s;
  s.topology = "fat-tree:k=4,tiers=2,speed=100G";
  s.traffic = "permutation:bytes=1M";
  s.duration = 200'000'000;  // 200 us
  s.warmup = 20'000'000;
  s.samples = samples;
  return rfab::emu::run_scenario(s);
}

TEST(EmuReport, TimelineHasOneSamplePerIntervalAndTheRunsTotals) {
  const Report r = sampled_run(40);
  ASSERT_EQ(r.timeline.size(), 41u);  // t = 0 and the end of each interval
  EXPECT_EQ(r.timeline.front().t, 0u);
  EXPECT_EQ(r.timeline.back().t, r.simulated);
  for (size_t i = 1; i < r.timeline.size(); ++i) {
    EXPECT_EQ(r.timeline[i].t, r.simulated * i / 40);
    EXPECT_GE(r.timeline[i].payload_delivered, r.timeline[i - 1].payload_delivered);
  }
  EXPECT_EQ(r.timeline.back().payload_delivered, r.payload_delivered);
  EXPECT_EQ(r.timeline.back().flows_completed, r.flows_completed);
  EXPECT_EQ(r.timeline.back().pfc_pauses, r.pfc_pauses);
  EXPECT_EQ(r.completion_times.size(), r.flows_completed);
  // Every byte a host sent crossed its NIC link: the NIC class's wire bytes cover the delivered payload.
  EXPECT_GE(r.timeline.back().tx_bytes[size_t(rfab::emu::LinkClass::nic)], r.payload_delivered);
  EXPECT_EQ(r.sending_hosts, 8u);
  // Sampling does not change the run.
  const Report plain = sampled_run(0);
  EXPECT_EQ(plain.events, r.events);
  EXPECT_EQ(plain.payload_delivered, r.payload_delivered);
  EXPECT_DOUBLE_EQ(plain.throughput, r.throughput);
  EXPECT_TRUE(plain.timeline.empty());
}

TEST(EmuReport, HtmlHasEveryChartWithDataAndEscapesText) {
  const Report r = sampled_run(50);
  rfab::cli::ReportContext ctx;
  ctx.command = "rfab emulate --traffic <script>alert(1)</script>";
  ctx.settings = {{"traffic", "a&b"}};
  std::ostringstream out;
  rfab::cli::write_emulation_report(out, r, ctx);
  const std::string html = out.str();
  EXPECT_EQ(html.rfind("<!DOCTYPE html>", 0), 0u);
  EXPECT_EQ(count(html, "<svg"), 7u);  // throughput, heatmap, queues, events, ECN, FCT CDF, completions
  EXPECT_EQ(count(html, "</svg>"), 7u);
  // A two-tier tree has four link classes (NIC, leaf up, spine down, leaf down): a heatmap row each.
  EXPECT_EQ(count(html, "<rect class=\"cell\""), 4u * 50u);
  // Every polyline has points.
  const std::regex poly("<polyline[^>]*points=\"([^\"]*)\"");
  size_t lines = 0;
  for (auto it = std::sregex_iterator(html.begin(), html.end(), poly); it != std::sregex_iterator(); ++it) {
    ++lines;
    EXPECT_GE(count((*it)[1].str(), ","), 2u) << (*it)[0].str();
  }
  EXPECT_GE(lines, 9u);
  EXPECT_EQ(html.find("<script>"), std::string::npos);
  EXPECT_NE(html.find("&lt;script&gt;"), std::string::npos);
  EXPECT_NE(html.find("a&amp;b"), std::string::npos);
  EXPECT_EQ(html.find("http://"), html.find("http://www.w3.org/2000/svg"));  // nothing loaded from elsewhere
}

TEST(EmuReport, CliWritesTheReportAndRefusesAnUnwritablePath) {
  const std::string file = tmp("ok.html");
  int rc = -1;
  const std::string out = rfab::test::run_command(
      kRfab + " emulate --topo fat-tree:k=4,tiers=2,speed=100G --traffic permutation:bytes=256K --time 50us --quiet"
              " --report " + file + " 2>&1", &rc);
  ASSERT_EQ(rc, 0) << out;
  std::ifstream f(file);
  std::stringstream ss;
  ss << f.rdbuf();
  EXPECT_EQ(count(ss.str(), "<svg"), 7u);
  std::filesystem::remove(file);
  const std::string bad = rfab::test::run_command(
      kRfab + " emulate --topo fat-tree:k=4,tiers=2 --time 10us --quiet --report /nonexistent-dir/r.html 2>&1", &rc);
  EXPECT_EQ(rc, 2) << bad;
  EXPECT_NE(bad.find("--report"), std::string::npos) << bad;
}

TEST(EmuReport, CompareRunsOtherRoutingsOnTheSameScenario) {
  const std::string file = tmp("compare.html");
  const std::string base = kRfab + " emulate --topo fat-tree:k=4,tiers=3,speed=100G --traffic permutation --time 60us"
                                   " --warmup 10us --quiet --routing ar:view=path --compare ecmp --compare ar";
  int rc = -1;
  std::string out = rfab::test::run_command(base + " --report " + file + " 2>&1", &rc);
  ASSERT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("compare     routing ecmp: throughput"), std::string::npos) << out;
  EXPECT_NE(out.find("compare     routing ar: throughput"), std::string::npos) << out;
  std::ifstream f(file);
  std::stringstream ss;
  ss << f.rdbuf();
  const std::string html = ss.str();
  // Three throughput series (one per routing) and a table row each.
  for (const char* name : {">ar:view=path<", ">ecmp<", ">ar<"}) EXPECT_GE(count(html, name), 2u) << name;
  std::filesystem::remove(file);
  // The JSON carries the compared runs, and their throughputs equal separate runs of the same scenario.
  out = rfab::test::run_command(base + " --json 2>&1", &rc);
  ASSERT_EQ(rc, 0) << out;
  const std::string alone = rfab::test::run_command(
      kRfab + " emulate --topo fat-tree:k=4,tiers=3,speed=100G --traffic permutation --time 60us --warmup 10us"
              " --quiet --routing ecmp --json 2>&1", &rc);
  const std::regex thr("\"throughput\":([0-9.e-]+)");
  std::smatch m;
  ASSERT_TRUE(std::regex_search(alone, m, thr)) << alone;
  const std::string ecmp_alone = m[1].str();
  const size_t at = out.find("\"routing\":\"ecmp\"");
  ASSERT_NE(at, std::string::npos) << out;
  const std::string tail = out.substr(at > 200 ? at - 200 : 0);
  EXPECT_NE(tail.find("\"throughput\":" + ecmp_alone), std::string::npos) << ecmp_alone << " in " << out;
  EXPECT_EQ(rfab::test::run_command(base + " --compare warp 2>&1", &rc).find("routing"), 6u);
  EXPECT_EQ(rc, 2);
}

// A training step on the flow-level engine: the report samples it (the timeline's totals are the run's), has
// no queue or congestion charts (the fluid model has none), and has the step's critical path: a table row
// and a time-line row per phase, and on the path row one bar per transfer on the path.
TEST(EmuReport, FlowEngineStepReportHasTheCriticalPathByPhase) {
  ScenarioSpec s;
  s.engine = "flow";
  s.topology = "fat-tree:k=4,tiers=3,speed=400G,rails=2";
  s.traffic = "step:train=gpipe,tp=2,pp=2,ep=2,microbatches=2,grad=64M,act=4M,moe=8M,tp-bytes=4M";
  s.duration = 100'000'000'000;  // 100 ms: the step ends well before
  s.samples = 40;
  const Report r = rfab::emu::run_scenario(s);
  ASSERT_EQ(r.flows_completed, r.flows);
  ASSERT_EQ(r.timeline.size(), 41u);
  EXPECT_EQ(r.timeline.back().payload_delivered, r.payload_delivered);
  EXPECT_EQ(r.timeline.back().flows_completed, r.flows);
  EXPECT_GT(r.timeline.back().tx_bytes[size_t(rfab::emu::LinkClass::nic)], r.payload_delivered);
  ASSERT_FALSE(r.step.phases.empty());
  ASSERT_FALSE(r.step.path.empty());
  rfab::cli::ReportContext ctx;
  ctx.fluid = true;
  std::ostringstream out;
  rfab::cli::write_emulation_report(out, r, ctx);
  const std::string html = out.str();
  EXPECT_EQ(count(html, "<svg"), 5u);  // throughput, heatmap, step time line, FCT CDF, completions
  EXPECT_EQ(html.find("Switch egress queues"), std::string::npos);
  EXPECT_NE(html.find("<h2>Step time</h2>"), std::string::npos);
  for (const rfab::emu::PhaseTime& p : r.step.phases) EXPECT_GE(count(html, ">" + p.phase + "<"), 2u) << p.phase;
  // Solid bars: each path transfer on the path row and on its phase's row; faint: one span per phase.
  EXPECT_EQ(count(html, "<rect class=\"bar\""), 2 * r.step.path.size() + r.step.phases.size());
}

// The page as a browser draws it: headless Chromium screenshots it and every chart's series colour must be
// on screen in quantity (an empty or broken chart draws none of its colour).
TEST(EmuReport, ChromiumRendersEveryChart) {
  if (std::system("command -v chromium >/dev/null 2>&1") != 0) GTEST_SKIP() << "chromium is not installed";
  if (std::system("/usr/bin/python3 -c 'import PIL' >/dev/null 2>&1") != 0) GTEST_SKIP() << "python3-pil is not installed";
  const std::string html = tmp("chrome.html"), png = tmp("chrome.png"), profile = tmp("profile");
  int rc = -1;
  std::string out = rfab::test::run_command(
      kRfab + " emulate --topo fat-tree:k=8,tiers=3,speed=400G --routing ecmp --traffic permutation:bytes=2M --time 150us"
              " --warmup 20us --quiet --report " + html + " 2>&1", &rc);
  ASSERT_EQ(rc, 0) << out;
  out = rfab::test::run_command("timeout 120 chromium --headless=new --no-sandbox --disable-gpu --hide-scrollbars"
                                " --user-data-dir=" + profile + " --window-size=1100,2800 --screenshot=" + png +
                                " file://" + html + " 2>&1", &rc);
  ASSERT_EQ(rc, 0) << out;
  ASSERT_TRUE(std::filesystem::exists(png)) << out;
  // Pixels of each series colour (the chart code's palette), within a small tolerance for anti-aliasing.
  const std::string script =
      "import sys\n"
      "from PIL import Image\n"
      "im = Image.open(sys.argv[1]).convert('RGB')\n"
      "cols = {'blue': (0x31, 0x68, 0xc1), 'red': (0xd6, 0x27, 0x28), 'green': (0x2c, 0xa0, 0x2c),\n"
      "        'purple': (0x94, 0x67, 0xbd)}\n"
      "n = dict.fromkeys(cols, 0)\n"
      "for p in im.getdata():\n"
      "    for k, c in cols.items():\n"
      "        if abs(p[0] - c[0]) + abs(p[1] - c[1]) + abs(p[2] - c[2]) < 24: n[k] += 1\n"
      "print(' '.join('%s=%d' % kv for kv in n.items()))\n";
  const std::string py = tmp("count.py");
  std::ofstream(py) << script;
  out = rfab::test::run_command("/usr/bin/python3 " + py + " " + png + " 2>&1", &rc);
  ASSERT_EQ(rc, 0) << out;
  std::printf("series pixels: %s", out.c_str());
  const std::regex kv("(\\w+)=(\\d+)");
  for (auto it = std::sregex_iterator(out.begin(), out.end(), kv); it != std::sregex_iterator(); ++it)
    EXPECT_GT(std::stoul((*it)[2].str()), 200u) << (*it)[1].str() << " series missing from the screenshot: " << out;
  std::filesystem::remove_all(profile);
  for (const std::string& f : {html, png, py}) std::filesystem::remove(f);
}

}  // namespace
