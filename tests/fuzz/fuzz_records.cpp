// Feeds arbitrary bytes to the records reader of `rfab validate --from` (a file anyone may hand it). Checks,
// besides no crash or sanitizer report: it either measures a window of positive length or throws
// RecordsError with a message naming the file; nothing else escapes.
#include <cstdint>
#include <cstdlib>
#include <sstream>
#include <string>

#include "rfab/telemetry/records.hpp"

using namespace rfab::telemetry;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::istringstream in(std::string(reinterpret_cast<const char*>(data), size));
  try {
    const Measurement m = measure_records(in, "fuzz.jsonl");
    if (!(m.seconds > 0)) std::abort();
    if (m.line_gbps && !(*m.line_gbps > 0)) std::abort();
  } catch (const RecordsError& e) {
    if (std::string(e.what()).rfind("fuzz.jsonl", 0) != 0) std::abort();
  }
  return 0;
}
