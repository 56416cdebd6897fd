// The ICRC check of one received datagram as an rc::RxCheck, so the QP can run it while it copies the
// payload into place (one pass over the payload instead of a check and a copy).
#pragma once
#include <cstdint>
#include <span>

#include "rfab/rc/rx_check.hpp"
#include "rfab/udp/address.hpp"
#include "rfab/udp/wire_icrc.hpp"

namespace rfab::udp {

class IcrcCheck final : public rc::RxCheck {
 public:
  IcrcCheck(IcrcVerifier& verifier, const Address& src, const Address& dst, std::span<const uint8_t> datagram)
      : verifier_(verifier), src_(src), dst_(dst), datagram_(datagram) {}
  bool verify() override { return verifier_.verify(src_, dst_, datagram_); }
  bool copy_verify(std::span<const uint8_t> payload, uint8_t* out) override {
    return verifier_.verify_copy(src_, dst_, datagram_, payload, out);
  }

 private:
  IcrcVerifier& verifier_;
  const Address& src_;
  const Address& dst_;
  std::span<const uint8_t> datagram_;
};

}  // namespace rfab::udp
