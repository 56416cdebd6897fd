// What the reach tests (adaptive routing, NIC spraying) share: whether the build is instrumented (it runs
// ~10x slower, so they measure the same claim on a smaller tree) and the congestion control a production
// fabric runs.
#pragma once

namespace rfab::emu::test {

#if defined(__SANITIZE_ADDRESS__)
inline constexpr bool kSanitized = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
inline constexpr bool kSanitized = true;
#else
inline constexpr bool kSanitized = false;
#endif
#else
inline constexpr bool kSanitized = false;
#endif

// The DCQCN a current ConnectX ships (firmware defaults) with the switch ECN profile of a RoCE-configured
// Spectrum switch (150 KB .. 1.5 MB, every packet marked above): docs/dcqcn.md gives the sources.
inline constexpr const char* kProductionCc = "dcqcn:preset=connectx,kmin=150000,kmax=1500000,pmax=1";

}  // namespace rfab::emu::test
