// rfab: RoCE v2 fabric toolkit command line.
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <string>
#include <new>

#include "app.hpp"
#include "commands.hpp"

namespace {

// One write(2) for the whole line: a process stopped mid-message (a rank `rfab run` stops) must not leave
// a bare "rfab: " behind. An exception without a text still says what kind of failure it was.
void report(const std::string& message) {
  const std::string line = "rfab: " + (message.empty() ? std::string("failed without an error message") : message) + "\n";
  (void)!::write(2, line.data(), line.size());
}

// Output that did not reach its file (stdout redirected to a full disk) must not end in exit 0.
int check_stdout(int rc) {
  std::cout.flush();
  if (std::fflush(stdout) == 0 && !std::ferror(stdout) && std::cout.good()) return rc;
  std::cerr << "rfab: writing standard output failed: " << std::strerror(errno ? errno : EIO) << "\n";
  return rc == 0 ? 1 : rc;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"rfab: RoCE v2 fabric toolkit (user-space RoCE, collectives, telemetry, emulation)", "rfab"};
  rfab::cli::build_app(app);
  if (const std::string unknown = rfab::cli::unknown_subcommand(app, argc, argv); !unknown.empty()) {
    std::cerr << unknown << "\nRun with --help for more information.\n";
    return 2;
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // CLI11 uses exit code 0 for --help/--version; map every usage error to 2.
    int rc = app.exit(e);
    return rc == 0 ? 0 : 2;
  } catch (const rfab::cli::ExitError& e) {
    if (!e.message.empty()) report(e.message);
    return check_stdout(e.code);
  } catch (const std::bad_alloc&) {
    // Commands estimate what they allocate and refuse beforehand; this is the last line, not the plan.
    report("out of memory");
    return 1;
  } catch (const std::exception& e) {
    report(e.what());
    return 2;
  }
  return check_stdout(0);
}
