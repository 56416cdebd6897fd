// "host:port" for a URL, with the port a server really bound (port 0 asks the kernel for one); IPv6 hosts
// in brackets.
#pragma once
#include <cstdint>
#include <string>

namespace rfab::cli {

inline std::string listen_url(const std::string& host, uint16_t port) {
  const bool v6 = host.find(':') != std::string::npos;
  return (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

}  // namespace rfab::cli
