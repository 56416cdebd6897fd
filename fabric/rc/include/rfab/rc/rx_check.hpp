// The integrity check (for RoCE: the ICRC) of a received packet that a driver hands to the QP instead of
// running it first. The QP runs it before the packet changes anything. When the packet continues a WRITE
// whose target the QP already knows from earlier, accepted packets, the QP asks for the check folded into
// the copy of the payload into that target, so the payload is read once instead of twice.
#pragma once
#include <cstdint>
#include <span>

namespace rfab::rc {

class RxCheck {
 public:
  virtual ~RxCheck() = default;
  // True when the whole packet is intact.
  virtual bool verify() = 0;
  // Copies `payload` (a part of the packet) to `dst` and returns true when the whole packet is intact.
  // `dst` holds the copied bytes afterwards whatever the verdict.
  virtual bool copy_verify(std::span<const uint8_t> payload, uint8_t* dst) = 0;
};

}  // namespace rfab::rc
