#include "emu_report.hpp"

#include <algorithm>
#include <cstdio>

#include "svg_chart.hpp"

namespace rfab::cli {

namespace {

using emu::Picos;
using emu::TimelineSample;

double us(Picos p) { return double(p) / 1e6; }

std::string fixed(double v, int digits) {
  char b[64];
  std::snprintf(b, sizeof b, "%.*f", digits, v);
  return b;
}

// Per-interval rate of a cumulative counter, plotted at the interval's end.
template <class F>
std::vector<std::pair<double, double>> per_interval(const std::vector<TimelineSample>& t, F value) {
  std::vector<std::pair<double, double>> out;
  for (size_t i = 1; i < t.size(); ++i) out.emplace_back(us(t[i].t), value(t[i - 1], t[i]));
  return out;
}

double max_y(const std::vector<svg::Series>& series, double floor) {
  double m = floor;
  for (const auto& s : series)
    for (const auto& [x, y] : s.points) m = std::max(m, y);
  return m * 1.08;
}

// Delivered payload per interval as a fraction of the line rate of every host with something to send (the
// offered load while all of them are sending).
std::vector<std::pair<double, double>> delivered_fraction(const emu::Report& r) {
  const double offered_bps = double(r.sending_hosts) * r.class_bps[size_t(emu::LinkClass::nic)];
  return per_interval(r.timeline, [&](const TimelineSample& a, const TimelineSample& b) {
    const double dt = double(b.t - a.t) * 1e-12;
    return offered_bps > 0 && dt > 0 ? double(b.payload_delivered - a.payload_delivered) * 8 / dt / offered_bps : 0;
  });
}

std::string throughput_chart(const emu::Report& r, const ReportContext& ctx) {
  static const char* const kOthers[] = {"#ff7f0e", "#8c564b", "#e377c2", "#17becf", "#bcbd22"};
  std::vector<svg::Series> series;
  series.push_back({ctx.routing.empty() ? "delivered" : ctx.routing, "#3168c1", delivered_fraction(r)});
  for (size_t i = 0; i < ctx.compared.size(); ++i)
    series.push_back({ctx.compared[i].routing, kOthers[i % 5], delivered_fraction(ctx.compared[i].report)});
  series.push_back({"header ceiling", "#888888", {{0, r.goodput_ceiling}, {us(r.simulated), r.goodput_ceiling}}, true});
  svg::Axes a{"Throughput over time (" + std::string(r.warmup ? "measured after the warm-up: " : "whole run: ") +
                  fixed(r.throughput, 4) + " of line)",
              "simulated time (us)", "of the senders' line rate", 0, us(r.simulated), 0, 1.05};
  std::vector<std::pair<double, std::string>> marks;
  if (r.warmup) marks.emplace_back(us(r.warmup), "warm-up ends");
  return svg::line_chart(a, series, marks);
}

std::string comparison_table(const emu::Report& r, const ReportContext& ctx) {
  if (ctx.compared.empty()) return {};
  std::string s = "<table><tr><th>routing</th><th>throughput</th><th>drops</th><th>PFC pauses</th><th>ECN marks</th>"
                  "<th>CNPs</th><th>deepest queue</th></tr>\n";
  auto row = [&](const std::string& name, const emu::Report& x) {
    s += "<tr><td>" + svg::escape(name) + "</td><td>" + fixed(x.throughput, 4) + "</td><td>" + std::to_string(x.drops) +
         "</td><td>" + std::to_string(x.pfc_pauses) + "</td><td>" + std::to_string(x.ecn_marks) + "</td><td>" +
         std::to_string(x.cnps) + "</td><td>" + fixed(double(x.max_queue_bytes) / 1024, 1) + " KiB</td></tr>\n";
  };
  row(ctx.routing, r);
  for (const ComparedRun& c : ctx.compared) row(c.routing, c.report);
  return s + "</table>\n";
}

std::string utilisation_heatmap(const emu::Report& r) {
  std::vector<std::string> rows;
  std::vector<std::vector<double>> cells;
  const auto& t = r.timeline;
  for (size_t c = 0; c < emu::kLinkClasses; ++c) {
    if (r.class_links[c] == 0) continue;
    rows.push_back(emu::to_string(emu::LinkClass(c)));
    std::vector<double> row;
    for (size_t i = 1; i < t.size(); ++i) {
      const double dt = double(t[i].t - t[i - 1].t) * 1e-12;
      const double cap = double(r.class_links[c]) * r.class_bps[c] * dt;
      row.push_back(cap > 0 ? double(t[i].tx_bytes[c] - t[i - 1].tx_bytes[c]) * 8 / cap : 0);
    }
    cells.push_back(std::move(row));
  }
  svg::Axes a{"Link utilisation per tier and direction (mean over the tier's links)", "simulated time (us)", "", 0,
              us(r.simulated), 0, 1};
  a.left = 96;
  a.height = 40 + 42 + int(rows.size()) * 26;
  return svg::heatmap(a, rows, cells);
}

std::string queue_chart(const emu::Report& r) {
  svg::Series mx{"deepest queue", "#d62728", {}}, mean{"mean queue", "#3168c1", {}};
  for (const TimelineSample& s : r.timeline) {
    mx.points.emplace_back(us(s.t), double(s.max_queue_bytes) / 1024);
    mean.points.emplace_back(us(s.t), s.mean_queue_bytes / 1024);
  }
  svg::Axes a{"Switch egress queues (sampled)", "simulated time (us)", "KiB", 0, us(r.simulated), 0,
              max_y({mx, mean}, 1)};
  return svg::line_chart(a, {mx, mean});
}

std::string events_chart(const emu::Report& r) {
  const auto& t = r.timeline;
  auto delta = [&](uint64_t TimelineSample::*field) {
    return per_interval(t, [field](const TimelineSample& a, const TimelineSample& b) { return double(b.*field - a.*field); });
  };
  svg::Series pauses{"PFC pauses", "#d62728", delta(&TimelineSample::pfc_pauses)};
  svg::Series cnps{"CNPs", "#2ca02c", delta(&TimelineSample::cnps)};
  svg::Series drops{"drops", "#111111", delta(&TimelineSample::drops)};
  svg::Axes a{"PFC pauses, CNPs and drops per sample interval", "simulated time (us)", "events", 0, us(r.simulated), 0,
              max_y({pauses, cnps, drops}, 1)};
  svg::Series marks{"ECN marks", "#9467bd", delta(&TimelineSample::ecn_marks)};
  svg::Axes b{"ECN marks per sample interval", "simulated time (us)", "packets marked", 0, us(r.simulated), 0,
              max_y({marks}, 1)};
  return svg::line_chart(a, {pauses, cnps, drops}) + svg::line_chart(b, {marks});
}

std::string fct_charts(const emu::Report& r) {
  if (r.completion_times.empty())
    return "<p class=\"note\">No flow completed in the simulated time (long-lived flows, or a run too short "
           "for them): no completion-time distribution.</p>";
  std::vector<Picos> fct = r.completion_times;
  std::sort(fct.begin(), fct.end());
  svg::Series cdf{"flows", "#3168c1", {}};
  const size_t n = fct.size(), stride = std::max<size_t>(1, n / 400);
  for (size_t i = 0; i < n; i += stride) cdf.points.emplace_back(us(fct[i]), double(i + 1) / double(n));
  cdf.points.emplace_back(us(fct.back()), 1.0);
  svg::Axes a{"Flow completion time CDF (" + std::to_string(n) + " of " + std::to_string(r.flows) + " flows completed)",
              "completion time (us)", "fraction of completed flows", us(fct.front()) * 0.98, us(fct.back()) * 1.02 + 0.01,
              0, 1};
  svg::Series done{"flows completed", "#2ca02c", {}};
  for (const TimelineSample& s : r.timeline) done.points.emplace_back(us(s.t), double(s.flows_completed));
  svg::Axes b{"Flow completions over time (a step ends when its last flow completes)", "simulated time (us)",
              "flows completed", 0, us(r.simulated), 0, double(r.flows) * 1.05};
  return svg::line_chart(a, {cdf}) + svg::line_chart(b, {done});
}

const char* const kPhaseColours[] = {"#3168c1", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
                                     "#8c564b", "#e377c2", "#17becf", "#bcbd22", "#7f7f7f"};

// The step's critical path by phase: a table, and a time line with the path on top (each transfer in its
// phase's colour) and one row per phase (its span faint, its transfers on the path solid).
std::string step_section(const emu::Report& r) {
  const emu::StepBreakdown& b = r.step;
  std::string s = "<p>The step ends at " + fixed(us(b.step), 2) +
                  " us, when its last flow is received. Walking back from that flow along the dependency each "
                  "flow waited for last gives the critical path; its transfers, summed by phase, add up to the "
                  "step time. The rest of each phase ran beside the path.</p>\n";
  s += "<table><tr><th>phase</th><th>on the critical path</th><th>share</th><th>transfers on the path</th>"
       "<th>flows</th><th>bytes</th><th>first start - last done</th></tr>\n";
  for (const emu::PhaseTime& p : b.phases)
    s += "<tr><td>" + svg::escape(p.phase) + "</td><td>" + fixed(us(p.critical), 2) + " us</td><td>" +
         fixed(b.step ? 100.0 * double(p.critical) / double(b.step) : 0, 1) + "%</td><td>" +
         std::to_string(p.critical_flows) + "</td><td>" + std::to_string(p.flows) + "</td><td>" +
         fixed(double(p.bytes) / 1e9, 3) + " GB</td><td>" + fixed(us(p.first_start), 2) + " - " +
         fixed(us(p.last_done), 2) + " us</td></tr>\n";
  if (b.waiting) s += "<tr><td>waiting (start delays)</td><td>" + fixed(us(b.waiting), 2) + " us</td><td></td><td></td><td></td><td></td><td></td></tr>\n";
  s += "</table>\n";
  std::vector<std::string> rows{"critical path"};
  std::vector<svg::Bar> bars;
  for (size_t i = 0; i < b.phases.size(); ++i) {
    const emu::PhaseTime& p = b.phases[i];
    rows.push_back(p.phase);
    bars.push_back({i + 1, us(p.first_start), us(p.last_done), kPhaseColours[i % 10],
                    p.phase + ": flows from " + fixed(us(p.first_start), 2) + " to " + fixed(us(p.last_done), 2) + " us", true});
  }
  for (const emu::PathSegment& seg : b.path) {
    const std::string tip = b.phases[seg.phase].phase + ": " + fixed(us(seg.start), 2) + " - " + fixed(us(seg.done), 2) + " us";
    const std::string& colour = kPhaseColours[seg.phase % 10];
    bars.push_back({0, us(seg.start), us(seg.done), colour, tip, false});
    bars.push_back({seg.phase + 1, us(seg.start), us(seg.done), colour, tip, false});
  }
  svg::Axes a{"Step time line: the critical path, and each phase's span (faint) with its transfers on the path",
              "simulated time (us)", "", 0, us(b.step), 0, 1};
  a.left = 250;
  a.width = 960;
  a.height = 40 + 42 + int(rows.size()) * 26;
  return s + svg::gantt(a, rows, bars);
}

}  // namespace

void write_emulation_report(std::ostream& out, const emu::Report& r, const ReportContext& ctx) {
  out << "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>rfab emulate: "
      << svg::escape(r.topology) << "</title><style>\n"
      << "body{font-family:sans-serif;margin:24px;color:#222;max-width:1000px}"
         "h1{font-size:20px}h2{font-size:16px;margin-top:28px}"
         "table{border-collapse:collapse;font-size:13px}td,th{border:1px solid #ccc;padding:3px 8px;text-align:left}"
         "code{background:#f4f4f4;padding:2px 4px}.chart{display:block;margin:8px 0}"
         ".title{font-size:13px;font-weight:bold}.tick{font-size:11px;fill:#444}.label{font-size:12px;fill:#222}"
         ".axis{stroke:#222}.grid{stroke:#e4e4e4}.mark{stroke:#999;stroke-dasharray:4 3}.note{color:#666}\n"
      << "</style></head><body>\n<h1>rfab emulate</h1>\n";
  out << "<p><code>" << svg::escape(ctx.command) << "</code></p>\n<table>\n";
  out << "<tr><th>topology</th><td>" << svg::escape(r.topology) << "</td></tr>\n";
  for (const auto& [k, v] : ctx.settings) out << "<tr><th>" << svg::escape(k) << "</th><td>" << svg::escape(v) << "</td></tr>\n";
  auto row = [&](const std::string& k, const std::string& v) {
    out << "<tr><th>" << svg::escape(k) << "</th><td>" << svg::escape(v) << "</td></tr>\n";
  };
  row("throughput", fixed(r.throughput, 4) + " of offered line rate" +
                        (r.warmup ? " after " + fixed(us(r.warmup), 1) + " us warm-up" : std::string()) +
                        " (header ceiling " + fixed(r.goodput_ceiling, 4) + ")");
  if (ctx.fluid) row("loss", "none: the flow-level engine models a lossless fabric");
  else row("loss", std::to_string(r.drops) + " drops (" + std::to_string(r.unroutable) + " unroutable), " +
                  std::to_string(r.pfc_pauses) + " PFC pauses, " + std::to_string(r.ecn_marks) + " ECN marks, " +
                  std::to_string(r.cnps) + " CNPs");
  if (r.failed_links) row("failures", std::to_string(r.failed_links) + " links down (" + std::to_string(r.failed_switches) + " switches)");
  row("flows", std::to_string(r.flows_completed) + " of " + std::to_string(r.flows) + " completed" +
                   (r.flows_completed ? "; FCT p50 " + fixed(us(r.fct_p50), 2) + " us, p99 " + fixed(us(r.fct_p99), 2) +
                                            " us, max " + fixed(us(r.fct_max), 2) + " us"
                                      : std::string()));
  if (!ctx.fluid) row("deepest queue", fixed(double(r.max_queue_bytes) / 1024, 1) + " KiB");
  if (!r.step.phases.empty()) row("step time", fixed(us(r.step.step), 2) + " us (every flow received)");
  row("emulator", std::to_string(r.events) + " events in " + fixed(r.cpu_seconds, 2) + " CPU-s, peak RSS " +
                      fixed(double(r.peak_rss_bytes) / (1024.0 * 1024.0), 1) + " MiB");
  out << "</table>\n";
  out << "<h2>Throughput</h2>\n" << throughput_chart(r, ctx) << "\n" << comparison_table(r, ctx);
  if (!ctx.compared.empty())
    out << "<p class=\"note\">The charts below are of the " << svg::escape(ctx.routing) << " run.</p>\n";
  out << "<h2>Links</h2>\n" << utilisation_heatmap(r) << "\n";
  if (ctx.fluid) {
    out << "<p class=\"note\">The flow-level engine models a lossless fabric of max-min fair fluid flows: it has no "
           "queues, PFC pauses, ECN marks, CNPs or drops to chart (<code>--engine packet</code> has them).</p>\n";
  } else {
    out << "<h2>Queues</h2>\n" << queue_chart(r) << "\n";
    out << "<h2>Congestion signals</h2>\n" << events_chart(r) << "\n";
  }
  if (!r.step.phases.empty()) out << "<h2>Step time</h2>\n" << step_section(r) << "\n";
  out << "<h2>Flows</h2>\n" << fct_charts(r) << "\n";
  out << "<p class=\"note\">" << r.timeline.size() - 1
      << " samples; utilisation counts frame bytes (not preamble and inter-frame gap) against each link's rate.</p>\n";
  out << "</body></html>\n";
}

}  // namespace rfab::cli
