// CPU time this process has used, user and kernel apart (getrusage, all threads). Benchmarks report it
// beside wall time: on a machine whose cores are all busy, CPU per operation is what bounds throughput,
// and the kernel share shows what a datapath pays the socket layer.
#pragma once
#include <sys/resource.h>

namespace rfab::cli {

struct CpuTimes {
  double user = 0, sys = 0;  // seconds
  double total() const { return user + sys; }
};

inline CpuTimes cpu_times() {
  rusage u{};
  ::getrusage(RUSAGE_SELF, &u);
  auto sec = [](const timeval& t) { return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6; };
  return {sec(u.ru_utime), sec(u.ru_stime)};
}

inline CpuTimes operator-(const CpuTimes& a, const CpuTimes& b) { return {a.user - b.user, a.sys - b.sys}; }

}  // namespace rfab::cli
