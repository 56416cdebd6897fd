#include "ping_plan.hpp"

#include <algorithm>
#include <numeric>

#include "rfab/base/rng.hpp"

namespace rfab::cli::ping {

std::vector<size_t> targets_of(size_t n, size_t self, size_t sample, uint64_t seed) {
  std::vector<size_t> offsets(n > 0 ? n - 1 : 0);
  std::iota(offsets.begin(), offsets.end(), size_t{1});
  if (sample != 0 && sample < offsets.size()) {
    // A partial Fisher-Yates shuffle with rfab's own generator: the same draw on every machine.
    SplitMix64 rng(seed);
    for (size_t i = 0; i < sample; ++i) {
      const size_t j = i + static_cast<size_t>(rng.next() % (offsets.size() - i));
      std::swap(offsets[i], offsets[j]);
    }
    offsets.resize(sample);
    std::sort(offsets.begin(), offsets.end());
  }
  std::vector<size_t> out;
  for (size_t o : offsets) out.push_back((self + o) % n);
  return out;
}

}  // namespace rfab::cli::ping
