// Feeds arbitrary bytes to the Prometheus exporter's request parser, the only code that reads what an HTTP
// client sends. Checks, besides no crash or sanitizer report: a complete request used only bytes it was
// given, and a head longer than the limit is never "incomplete" (it would be buffered without bound).
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "rfab/telemetry/http_request.hpp"

using namespace rfab::telemetry;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  const HttpRequest r = parse_http_request(in);
  switch (r.state) {
    case HttpRequest::State::complete:
      if (r.consumed == 0 || r.consumed > size || (r.method != "GET" && r.method != "HEAD")) std::abort();
      if (r.path.empty() || r.path[0] != '/') std::abort();
      break;
    case HttpRequest::State::incomplete:
      if (size >= kMaxHttpRequestHead) std::abort();
      break;
    case HttpRequest::State::bad:
      if (r.error_status < 400 || r.error_status > 599 || r.error.empty()) std::abort();
      break;
  }
  return 0;
}
