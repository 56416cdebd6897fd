#include "rfab/telemetry/http_request.hpp"

#include <algorithm>

namespace rfab::telemetry {
namespace {

HttpRequest bad(int status, std::string why) {
  HttpRequest r;
  r.state = HttpRequest::State::bad;
  r.error_status = status;
  r.error = std::move(why);
  return r;
}

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; });
  return out;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

// True when every byte is a visible ASCII character (a token, a target).
bool visible(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c > 0x20 && c < 0x7F; });
}

}  // namespace

HttpRequest parse_http_request(std::string_view buf) {
  // The head ends at the first empty line.
  size_t end = std::string_view::npos, body = 0;
  for (size_t i = buf.find('\n'); i != std::string_view::npos; i = buf.find('\n', i + 1)) {
    if (i + 1 < buf.size() && buf[i + 1] == '\n') {
      end = i + 1;
      body = i + 2;
      break;
    }
    if (i + 2 < buf.size() && buf[i + 1] == '\r' && buf[i + 2] == '\n') {
      end = i + 1;
      body = i + 3;
      break;
    }
  }
  if (end == std::string_view::npos) {
    if (buf.size() >= kMaxHttpRequestHead) return bad(431, "request head over 8192 bytes");
    return {};
  }
  if (body > kMaxHttpRequestHead) return bad(431, "request head over 8192 bytes");
  const std::string_view head = buf.substr(0, end);
  const size_t eol = head.find('\n');
  const std::string_view line = trim(head.substr(0, eol));
  const size_t sp1 = line.find(' ');
  const size_t sp2 = sp1 == std::string_view::npos ? sp1 : line.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos || line.find(' ', sp2 + 1) != std::string_view::npos)
    return bad(400, "malformed request line");
  const std::string_view method = line.substr(0, sp1), target = line.substr(sp1 + 1, sp2 - sp1 - 1),
                         version = line.substr(sp2 + 1);
  if (!visible(method) || !visible(target)) return bad(400, "malformed request line");
  if (version != "HTTP/1.1" && version != "HTTP/1.0") {
    if (version.rfind("HTTP/", 0) == 0) return bad(505, "only HTTP/1.0 and HTTP/1.1 are served");
    return bad(400, "malformed request line");
  }
  if (target.size() > 2048) return bad(414, "request target over 2048 bytes");
  if (target.front() != '/') return bad(400, "the request target must be a path");
  HttpRequest r;
  r.keep_alive = version == "HTTP/1.1";
  for (size_t pos = eol + 1; pos < head.size();) {
    const size_t next = std::min(head.find('\n', pos), head.size());
    const std::string_view field = trim(head.substr(pos, next - pos));
    pos = next + 1;
    if (field.empty()) continue;
    const size_t colon = field.find(':');
    if (colon == std::string_view::npos || colon == 0) return bad(400, "malformed header line");
    const std::string name = lower(trim(field.substr(0, colon)));
    const std::string value = lower(trim(field.substr(colon + 1)));
    if (name == "connection") {
      if (value.find("close") != std::string::npos) r.keep_alive = false;
      else if (value.find("keep-alive") != std::string::npos) r.keep_alive = true;
    } else if (name == "transfer-encoding" || (name == "content-length" && value != "0")) {
      return bad(413, "request bodies are not accepted");
    }
  }
  if (method != "GET" && method != "HEAD") return bad(405, "only GET and HEAD are served");
  r.state = HttpRequest::State::complete;
  r.method = std::string(method);
  r.path = std::string(target.substr(0, target.find('?')));
  r.consumed = body;
  return r;
}

}  // namespace rfab::telemetry
