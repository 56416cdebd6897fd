// The kinds of event the fabric schedules on its EventQueue. Shared by the parts that schedule them (the
// egress ports put packets and PFC frames on links) and the Fabric that dispatches them.
#pragma once
#include <cstdint>

namespace rfab::emu {

// The order is the order of events tied at one picosecond (event_queue.hpp), the one insertion order
// mostly gave them: what was scheduled longest before comes first. A frame arriving was put on its link a
// latency and a frame time before, a PFC frame a latency before, a transmitter finishing one frame time
// before, and a wake or timer often at that instant. Transmit-done first measured worse under adaptive
// routing with DCQCN (docs/emulator.md, "Event order").
enum FabricEvent : uint8_t {
  kArrive,    // target: ingress port at the far end of a link; arg: packet index
  kPfc,       // target: egress port told to pause (arg 1) or resume (arg 0) by its peer
  kTxDone,    // target: egress port whose transmitter finished serialising a frame
  kHostWake,  // target: host whose stack asked to be pulled
  kTimer,     // target: the host stack's timer id
};

// The kinds whose events need a seq in the event queue (event_queue.hpp): only a port's PFC frames can
// differ at one time (a switch may resume and pause one upstream port within a picosecond, and the last word
// must win). The others cannot: a port has one transmitter (kTxDone) and one peer sending to it with
// serialisation > 0 between frames (kArrive); two wakes of a host or two firings of a timer at one time are
// the same event twice, whose order changes nothing.
inline constexpr uint32_t kCountedFabricEvents = 1u << kPfc;

}  // namespace rfab::emu
