// The kinds of event the fabric schedules on its EventQueue. Shared by the parts that schedule them (the
// egress ports put packets and PFC frames on links) and the Fabric that dispatches them.
#pragma once
#include <cstdint>

namespace rfab::emu {

enum FabricEvent : uint8_t {
  kTxDone,    // target: egress port whose transmitter finished serialising a frame
  kArrive,    // target: ingress port at the far end of a link; arg: packet index
  kPfc,       // target: egress port told to pause (arg 1) or resume (arg 0) by its peer
  kHostWake,  // target: host whose stack asked to be pulled
  kTimer,     // target: the host stack's timer id
};

}  // namespace rfab::emu
