// Which hosts each `rfab ping` agent probes. Every agent computes the same plan from the host count, the
// sample size and the seed, so no coordinator is needed.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

namespace rfab::cli::ping {

// The hosts `self` probes among `n`: every other host when `sample` is 0 or at least n - 1; otherwise
// `sample` of them, at offsets drawn once from `seed` and shared by all hosts (host i probes i + o_1, ...,
// i + o_m mod n), so every host is the source of `sample` pairs and the destination of `sample` pairs,
// and a host that is down shows up in the pairs of `sample` others.
std::vector<size_t> targets_of(size_t n, size_t self, size_t sample, uint64_t seed);

}  // namespace rfab::cli::ping
