// The error convention of rfab: what a user typed (a flag, a spec, an environment variable) and got wrong
// is a ParseError, a std::invalid_argument whose message names what was being parsed and the value, e.g.
//   --size: bad value "4Q": unknown unit "Q" (use K, M, G or T: powers of 1024)
// Configuration is parsed once, at startup, so an exception is the simplest way to carry one clear message
// up to the CLI, which prints it and exits with status 2.
//
// How the components' own error types relate to it:
//   rfab::spec::SpecError      (key=value specs: DCQCN, faults)  IS a ParseError (an alias).
//   rfab::topo::TopologyError  (topology specs, impossible trees) derives from ParseError.
//   rfab::env::EnvError        (environment variables)            derives from ParseError.
//   rfab::coll::Error          (collectives: carries a Status for the C API) is not one: the collectives
//                              catch ParseError where they read their configuration and rethrow it as
//                              Error(Status::InvalidArgument) with the same message.
//   Run-time failures (a peer that vanished, a socket error) are not ParseErrors: they are the
//   components' std::runtime_error types (ExchangeError, TcpConnectError, coll::Error, ...).
#pragma once
#include <stdexcept>
#include <string>
#include <string_view>

namespace rfab {

class ParseError : public std::invalid_argument {
 public:
  // `message` is the whole text what() returns; `reason` is only the why ("expected a duration such as
  // 10us"), for callers that add their own context (the key of a spec) around it.
  explicit ParseError(const std::string& message, std::string reason = {})
      : std::invalid_argument(message), reason_(reason.empty() ? message : std::move(reason)) {}

  const std::string& reason() const noexcept { return reason_; }

 private:
  std::string reason_;
};

// Throws ParseError("<what>: bad value \"<value>\": <why>"), or "bad value \"<value>\": <why>" when `what`
// is empty.
[[noreturn]] void throw_parse_error(std::string_view what, std::string_view value, std::string_view why);

}  // namespace rfab
