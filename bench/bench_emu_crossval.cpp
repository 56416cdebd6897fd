// The flow-level engine against the packet-level one at any size (the unit tests do 1,024 hosts):
//
//   bench_emu_crossval TOPOLOGY TRAFFIC [ROUTING=ecmp] [HORIZON_US=5000] [SEED=1]   (ROUTING as rfab emulate's)
//   e.g. bench_emu_crossval fat-tree:k=32,tiers=3,speed=400G permutation:bytes=2M ecmp 2000
//
// Both engines run the same flows (paced hosts, PFC on, no CC) until HORIZON; per-flow completion times,
// their mean and the step time (last completion) are compared, with each engine's CPU time. Exit 1 when a
// flow did not complete in one of them.
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>

#include "rfab/emu/cross_validation.hpp"
#include "rfab/emu/traffic.hpp"
#include "rfab/topology/spec.hpp"

using namespace rfab::emu;

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: %s TOPOLOGY TRAFFIC [ROUTING=ecmp] [HORIZON_US=5000] [SEED=1]\n", argv[0]);
    return 2;
  }
  try {
    const std::string topo = argv[1], traffic = argv[2];
    EmuConfig cfg;
    const RoutingChoice rc = parse_routing_choice(argc > 3 ? argv[3] : "ecmp");  // e.g. ar:view=path
    cfg.routing = rc.routing;
    cfg.ar_view = rc.ar_view;
    cfg.ar_choices = rc.ar_choices;
    if (rc.ar_quantum_bytes) cfg.ar_quantum_bytes = rc.ar_quantum_bytes;
    const double horizon_us = argc > 4 ? std::stod(argv[4]) : 5000;
    cfg.seed = argc > 5 ? std::stoull(argv[5]) : 1;
    if (!(horizon_us > 0)) throw std::invalid_argument("HORIZON_US must be > 0");
    const rfab::topo::FatTree tree(rfab::topo::parse_fat_tree(topo));
    const std::vector<FlowSpec> flows = make_traffic(traffic, tree, cfg.seed);
    const CrossValidation c = cross_validate(topo, cfg, flows, Picos(horizon_us * 1e6));
    std::printf("%s, %s, %s, seed %llu: %llu flows, %llu completed in both\n", tree.describe().c_str(), traffic.c_str(),
                argc > 3 ? argv[3] : "ecmp", (unsigned long long)cfg.seed, (unsigned long long)c.flows,
                (unsigned long long)c.compared);
    std::printf("per-flow completion |flow - packet| / packet: median %.4f, p90 %.4f\n", c.median_rel, c.p90_rel);
    std::printf("mean completion: flow %.2f us, packet %.2f us (%+.4f)\n", c.mean_flow / 1e6, c.mean_packet / 1e6,
                c.mean_packet > 0 ? c.mean_flow / c.mean_packet - 1 : 0.0);
    std::printf("step (last completion): flow %.2f us, packet %.2f us (%+.4f)\n", double(c.last_flow) / 1e6,
                double(c.last_packet) / 1e6, c.last_packet ? double(c.last_flow) / double(c.last_packet) - 1 : 0.0);
    std::printf("CPU: flow engine %.2f s, packet engine %.2f s\n", c.cpu_flow, c.cpu_packet);
    return c.compared == c.flows ? 0 : 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_emu_crossval: %s\n", e.what());
    return 2;
  }
}
