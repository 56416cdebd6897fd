#include "rfab/emu/shared_buffer.hpp"

#include <string>

namespace rfab::emu {

SharedBuffer::SharedBuffer(const topo::FatTree& tree, const EmuConfig& cfg)
    : buffer_bytes_(cfg.switch_buffer_bytes), dt_alpha_(cfg.dt_alpha), pfc_(cfg.pfc) {
  used_.assign(tree.switches(), 0);
  headroom_ = pfc_.headroom_bytes;
  if (headroom_ == 0) {
    // What can still arrive after we decide to pause: the pause frame's flight plus the data already on the
    // wire back toward us (2 x bandwidth-delay), one frame finishing upstream and one being received.
    double bdp = double(tree.latency_ps()) / 1e12 * std::max(tree.host_bps(), tree.link_bps()) / 8.0;
    headroom_ = uint64_t(2 * bdp) + 2ull * (cfg.data_frame_bytes(cfg.mtu) + cfg.framing_bytes) + 84;
  }
  reserved_.assign(tree.switches(), 0);
  if (!pfc_.enabled) return;
  for (uint32_t sw = 0; sw < tree.switches(); ++sw) {
    const uint32_t ports = tree.port_count(tree.hosts() + sw);
    uint64_t need = uint64_t{ports} * (headroom_ + pfc_.xoff_min_bytes);
    if (need > buffer_bytes_)
      throw topo::TopologyError("emulator: switch buffer " + std::to_string(buffer_bytes_) +
                                " B cannot hold PFC headroom + minimum XOFF for " + std::to_string(ports) +
                                " ports (" + std::to_string(need) + " B needed)");
    reserved_[sw] = uint64_t{ports} * headroom_;
  }
}

}  // namespace rfab::emu
