// `rfab ping`'s verdict: from the matrix, the smallest things that explain every bad pair.
//
//   an entropy is bad when its loss exceeds the threshold (or the pair could not be probed at all);
//   a pair is bad when any entropy is bad: "down" when all are, a "path" fault when only some are (the
//     ECMP paths those source ports hash onto lose packets, the others do not);
//   a host is at fault when every measured pair it takes part in (as source or destination) is bad while
//     some pair without it is good, or when it sent no report (its agent is not running or unreachable);
//   the bad pairs no host fault explains are reported one by one, as a pair fault or a path fault;
//   when only one host's row arrived and all its pairs are bad, that host is named (cut off), not all
//   the others.
// With two hosts nothing separates a host from the pair between them, so only pairs and paths are named.
#pragma once
#include <string>
#include <vector>

#include "ping_stats.hpp"

namespace rfab::cli::ping {

struct Finding {
  enum class Kind { host, pair, path };
  Kind kind = Kind::pair;
  size_t host = 0;                 // host
  size_t src = 0, dst = 0;         // pair, path
  std::vector<size_t> entropies;   // path: the bad entropies' indices
  std::string text;                // one line for people
};
const char* to_string(Finding::Kind k);

struct Verdict {
  std::vector<Finding> findings;
  size_t pairs = 0, bad_pairs = 0;
  bool ok() const { return findings.empty(); }
};

// `max_loss`: the loss fraction an entropy may show and still be good (0: any lost probe is a fault).
Verdict judge(const Matrix& m, double max_loss);

}  // namespace rfab::cli::ping
