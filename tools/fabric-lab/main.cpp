// rfab-lab-port: the fabric lab's switch-port model on one tc hook (docs/fabric-lab.md).
//   rfab-lab-port attach --netns NS --dev DEV [--hook ingress|egress] [knobs]   fresh instance, counters at 0
//   rfab-lab-port set    --netns NS --dev DEV [--hook ...] [knobs]             change knobs, keep counters
//   rfab-lab-port show   --netns NS --dev DEV [--hook ...] [--json]            counters and knobs
//   rfab-lab-port detach --netns NS --dev DEV [--hook ...]
// Knobs: --vq-rate RATE|off --mark-threshold BYTES --drop PROB --seed N --roce-port PORT
#include <CLI/CLI.hpp>
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "port_loader.hpp"
#include "port_options.hpp"

namespace {
using namespace rfab::lab;

struct Target {
  std::string netns, dev, hook = "ingress";
};

struct Knobs {
  std::optional<std::string> vq_rate, mark_threshold, drop;
  std::optional<uint64_t> seed;
  std::optional<uint16_t> roce_port;

  // Applies the knobs given on the command line to `c`; the others keep their value.
  void apply(lab_port_config& c) const {
    if (vq_rate) c.vq_rate_bytes_per_s = *vq_rate == "off" ? 0 : parse_rate_bytes_per_s("--vq-rate", *vq_rate);
    if (mark_threshold) c.mark_threshold = parse_size_bytes("--mark-threshold", *mark_threshold);
    if (drop) c.drop_p32 = parse_probability_p32("--drop", *drop);
    if (seed) c.seed = *seed;
    if (roce_port) {
      if (*roce_port == 0) throw BadValue("--roce-port: 0 is not a UDP port");
      c.roce_port = *roce_port;
    }
  }
};

void add_target(CLI::App* cmd, Target& t) {
  cmd->add_option("--netns", t.netns, "network namespace (/var/run/netns/NAME); default: the current one");
  cmd->add_option("--dev", t.dev, "interface")->required();
  cmd->add_option("--hook", t.hook, "tc hook: ingress or egress")->check(CLI::IsMember({"ingress", "egress"}));
}

void add_knobs(CLI::App* cmd, Knobs& k) {
  cmd->add_option("--vq-rate", k.vq_rate, "virtual-queue drain rate (tc units: 800mbit, 1gbit) or off");
  cmd->add_option("--mark-threshold", k.mark_threshold, "mark ECN-CE above this virtual-queue backlog (bytes, k, m)");
  cmd->add_option("--drop", k.drop, "drop probability of a RoCE packet (0.01 or 1%)");
  cmd->add_option("--seed", k.seed, "seed of the drop decisions");
  cmd->add_option("--roce-port", k.roce_port, "UDP destination port of RoCE v2 (default 4791)");
}

nlohmann::ordered_json to_json(const Target& t, const PortReport& r) {
  const auto& s = r.stats;
  nlohmann::ordered_json sports = nlohmann::ordered_json::object();
  for (const auto& [port, packets] : r.sport_packets) sports[std::to_string(port)] = packets;
  return {
      {"netns", t.netns},
      {"dev", t.dev},
      {"hook", t.hook},
      {"prog_id", r.prog_id},
      {"config",
       {{"vq_rate_bits_per_s", r.config.vq_rate_bytes_per_s * 8},
        {"mark_threshold_bytes", r.config.mark_threshold},
        {"drop_probability", r.config.drop_p32 / 4294967296.0},
        {"seed", r.config.seed},
        {"roce_port", r.config.roce_port}}},
      {"stats",
       {{"frames", s.frames},
        {"bytes", s.bytes},
        {"roce_packets", s.roce_packets},
        {"roce_bytes", s.roce_bytes},
        {"ce_marked", s.ce_marked},
        {"ce_arrived", s.ce_arrived},
        {"not_ect", s.not_ect},
        {"dropped", s.dropped},
        {"dropped_psns", s.dropped_psns},
        {"dropped_again", s.dropped_again},
        {"gso_skbs", s.gso_skbs}}},
      {"vq", {{"backlog_bytes", r.vq_backlog}, {"max_backlog_bytes", r.vq_max_backlog}}},
      {"sport_packets", sports},
  };
}

void print_text(const Target& t, const PortReport& r) {
  const auto& s = r.stats;
  std::printf("%s %s (prog %u)\n", t.dev.c_str(), t.hook.c_str(), r.prog_id);
  std::printf("  knobs : vq-rate %llu bit/s  mark-threshold %u B  drop %.6f  seed %llu  roce-port %u\n",
              static_cast<unsigned long long>(r.config.vq_rate_bytes_per_s * 8), r.config.mark_threshold,
              r.config.drop_p32 / 4294967296.0, static_cast<unsigned long long>(r.config.seed), r.config.roce_port);
  std::printf("  frames %llu (%llu B)  roce %llu (%llu B)  ce-marked %llu  ce-arrived %llu  not-ect %llu  dropped %llu"
              " (%llu distinct PSNs, %llu again)  gso-skbs %llu\n",
              static_cast<unsigned long long>(s.frames), static_cast<unsigned long long>(s.bytes),
              static_cast<unsigned long long>(s.roce_packets), static_cast<unsigned long long>(s.roce_bytes),
              static_cast<unsigned long long>(s.ce_marked), static_cast<unsigned long long>(s.ce_arrived),
              static_cast<unsigned long long>(s.not_ect), static_cast<unsigned long long>(s.dropped),
              static_cast<unsigned long long>(s.dropped_psns), static_cast<unsigned long long>(s.dropped_again),
              static_cast<unsigned long long>(s.gso_skbs));
  std::printf("  virtual queue: backlog %llu B, max %llu B\n", static_cast<unsigned long long>(r.vq_backlog),
              static_cast<unsigned long long>(r.vq_max_backlog));
  std::printf("  roce packets by source port:");
  for (const auto& [port, packets] : r.sport_packets)
    std::printf(" %u:%llu", port, static_cast<unsigned long long>(packets));
  std::printf("\n");
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"rfab-lab-port: switch-port model of the fabric lab (virtual-queue ECN marking, seeded drops, counters)"};
  app.require_subcommand(1);
  Target t;
  Knobs k;
  bool json = false;
  CLI::App* attach_cmd = app.add_subcommand("attach", "load a fresh instance (counters at 0) and attach it");
  CLI::App* set_cmd = app.add_subcommand("set", "change the knobs of the attached instance (counters keep running)");
  CLI::App* show_cmd = app.add_subcommand("show", "print the counters and knobs");
  CLI::App* detach_cmd = app.add_subcommand("detach", "remove the instance from the hook");
  for (CLI::App* c : {attach_cmd, set_cmd, show_cmd, detach_cmd}) add_target(c, t);
  add_knobs(attach_cmd, k);
  add_knobs(set_cmd, k);
  show_cmd->add_flag("--json", json, "one JSON object");
  CLI11_PARSE(app, argc, argv);

  try {
    if (!t.netns.empty()) enter_netns(t.netns);
    const Hook hook = parse_hook(t.hook);
    if (*attach_cmd) {
      lab_port_config c{};
      c.roce_port = 4791;
      c.seed = 1;
      k.apply(c);
      attach(t.dev, hook, c);
    } else if (*set_cmd) {
      lab_port_config c = current_config(t.dev, hook);
      k.apply(c);
      configure(t.dev, hook, c);
    } else if (*show_cmd) {
      const PortReport r = read(t.dev, hook);
      if (json) std::cout << to_json(t, r).dump() << "\n";
      else print_text(t, r);
    } else {
      detach(t.dev, hook);
    }
  } catch (const BadValue& e) {
    std::fprintf(stderr, "rfab-lab-port: %s\n", e.what());
    return 2;
  } catch (const PortError& e) {
    std::fprintf(stderr, "rfab-lab-port: %s\n", e.what());
    return 1;
  }
  return 0;
}
