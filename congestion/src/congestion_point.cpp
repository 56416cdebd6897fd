#include "rfab/congestion/congestion_point.hpp"

#include <stdexcept>
#include <string>

namespace rfab::cc {
namespace {

void check(const RedParams& p) {
  if (p.kmin_bytes > p.kmax_bytes) {
    throw std::invalid_argument("RED profile: kmin (" + std::to_string(p.kmin_bytes) + " B) exceeds kmax (" +
                                std::to_string(p.kmax_bytes) + " B)");
  }
  if (!(p.pmax >= 0 && p.pmax <= 1)) throw std::invalid_argument("RED profile: pmax must be in [0, 1]");
}

}  // namespace

double mark_probability(const RedParams& p, uint64_t q) {
  if (q <= p.kmin_bytes) return 0.0;
  if (q > p.kmax_bytes) return 1.0;
  // Here kmin < q <= kmax, so kmax > kmin and the division is safe.
  return p.pmax * static_cast<double>(q - p.kmin_bytes) / static_cast<double>(p.kmax_bytes - p.kmin_bytes);
}

EcnMarker::EcnMarker(const RedParams& p, uint64_t seed) : p_(p), rng_(seed) { check(p); }

bool EcnMarker::mark(uint64_t queue_bytes) {
  ++stats_.packets;
  const bool m = should_mark(p_, queue_bytes, rng_.uniform());
  stats_.marked += m ? 1 : 0;
  return m;
}

void Wred::set_profile(unsigned tc, const RedParams& p) {
  if (tc >= kClasses) throw std::invalid_argument("WRED: traffic class " + std::to_string(tc) + " is not 0..7");
  check(p);
  profiles_[tc] = p;
}

void Wred::clear_profile(unsigned tc) {
  if (tc >= kClasses) throw std::invalid_argument("WRED: traffic class " + std::to_string(tc) + " is not 0..7");
  profiles_[tc].reset();
}

const std::optional<RedParams>& Wred::profile(unsigned tc) const {
  if (tc >= kClasses) throw std::invalid_argument("WRED: traffic class " + std::to_string(tc) + " is not 0..7");
  return profiles_[tc];
}

bool Wred::mark(unsigned tc, uint64_t queue_bytes) {
  const double u = rng_.uniform();  // drawn even for unmarked classes: the sequence depends on packets only
  if (tc >= kClasses || !profiles_[tc]) return false;
  return should_mark(*profiles_[tc], queue_bytes, u);
}

}  // namespace rfab::cc
