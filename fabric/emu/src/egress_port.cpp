#include "rfab/emu/egress_port.hpp"

namespace rfab::emu {

EgressPorts::EgressPorts(const topo::FatTree& tree, const EmuConfig& config, PacketPool& pool,
                         EventQueue& events)
    : pool_(pool), events_(events) {
  ports_.resize(tree.ports());
  for (uint32_t p = 0; p < tree.ports(); ++p) {
    ports_[p].peer = tree.peer(p);
    ports_[p].host_link = tree.port_bps(p) == tree.host_bps();
  }
  latency_ = tree.latency_ps();
  ps_per_byte_host_ = 8e12 / tree.host_bps();
  ps_per_byte_link_ = 8e12 / tree.link_bps();
  framing_bytes_ = config.framing_bytes;
}

}  // namespace rfab::emu
