// Attaches the switch-port program (lab_port.bpf.c) to one tc hook of one interface, finds an attached
// instance again (through tc, so no pinned files outlive the namespace), and reads and writes its maps.
// Every call works in the calling thread's network namespace.
#pragma once
#include <cstdint>
#include <map>
#include <stdexcept>
#include <string>

#include "lab_port_types.h"

namespace rfab::lab {

struct PortError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

enum class Hook { ingress, egress };
Hook parse_hook(const std::string& text);  // "ingress" | "egress"
const char* to_string(Hook h);

struct PortReport {
  lab_port_config config{};
  lab_port_stats stats{};  // summed over CPUs
  uint64_t vq_backlog = 0, vq_max_backlog = 0;
  std::map<uint16_t, uint64_t> sport_packets;  // RoCE packets per UDP source port
  uint32_t prog_id = 0;
};

// Loads a fresh instance (all counters zero) with `config` and attaches it, replacing one attached before.
void attach(const std::string& dev, Hook hook, const lab_port_config& config);
// Changes the configuration of the attached instance; counters and the virtual queue keep running.
void configure(const std::string& dev, Hook hook, const lab_port_config& config);
lab_port_config current_config(const std::string& dev, Hook hook);
PortReport read(const std::string& dev, Hook hook);
void detach(const std::string& dev, Hook hook);

// Moves the calling thread into the network namespace /var/run/netns/<name>.
void enter_netns(const std::string& name);

}  // namespace rfab::lab
