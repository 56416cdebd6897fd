// The one HTTP/1.x request the Prometheus exporter answers, parsed from bytes a client sent, apart from any
// socket so it can be tested and fuzzed. Anything a scraper does not send is refused with a status code
// rather than buffered: request heads are bounded, bodies are not accepted.
#pragma once
#include <cstddef>
#include <string>
#include <string_view>

namespace rfab::telemetry {

inline constexpr size_t kMaxHttpRequestHead = 8192;  // request line and headers, in bytes

struct HttpRequest {
  enum class State { incomplete, complete, bad };
  State state = State::incomplete;
  int error_status = 0;  // bad: 400, 405, 413, 414, 431 or 505
  std::string error;     // bad: why, for the response body
  std::string method;    // "GET" or "HEAD" when complete
  std::string path;      // the target without its query string
  bool keep_alive = false;
  size_t consumed = 0;   // bytes of the buffer the request used (complete)
};

// Parses the request at the front of `buf` (CRLF or bare LF line ends). Incomplete while the head has not
// ended and is shorter than kMaxHttpRequestHead.
HttpRequest parse_http_request(std::string_view buf);

}  // namespace rfab::telemetry
