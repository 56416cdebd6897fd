// The machine's single-thread memory limits, printed beside benchmark figures: memcpy bandwidth between two
// buffers far larger than the caches (every byte read once and written once), and the same for a block
// that fits in L2 (the best a copy of data already in cache can do). Median of 7 runs.
//   bench_memcpy [--json]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

namespace {

double copy_gbps(size_t bytes, int reps) {
  std::vector<char> a(bytes, 1), b(bytes, 2);
  std::vector<double> runs;
  for (int r = 0; r < 7; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < reps; ++i) {
      std::memcpy(b.data(), a.data(), bytes);
      asm volatile("" : : "r"(b.data()) : "memory");  // the copy is not elided
    }
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    runs.push_back(double(bytes) * reps / s / 1e9);
  }
  std::sort(runs.begin(), runs.end());
  return runs[runs.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  const bool json = argc > 1 && std::string(argv[1]) == "--json";
  const double dram = copy_gbps(256u << 20, 2);
  const double l2 = copy_gbps(256u << 10, 2000);
  if (json)
    std::printf("{\"memcpy_dram_gbytes_per_s\": %.2f, \"memcpy_l2_gbytes_per_s\": %.2f}\n", dram, l2);
  else
    std::printf("memcpy, one thread: %.2f GB/s for 256 MiB buffers, %.2f GB/s within a 256 KiB block (in cache)\n",
                dram, l2);
  return 0;
}
