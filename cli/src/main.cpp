// rfab: RoCE v2 fabric toolkit command line.
#include <unistd.h>

#include <cstdio>
#include <iostream>
#include <string>

#include "commands.hpp"

namespace {

// One write(2) for the whole line: a process stopped mid-message (a rank `rfab run` stops) must not leave
// a bare "rfab: " behind. An exception without a text still says what kind of failure it was.
void report(const std::string& message) {
  const std::string line = "rfab: " + (message.empty() ? std::string("failed without an error message") : message) + "\n";
  (void)!::write(2, line.data(), line.size());
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"rfab: RoCE v2 fabric toolkit (user-space RoCE, collectives, telemetry, emulation)", "rfab"};
  app.set_version_flag("--version", std::string("rfab ") + RFAB_VERSION);
  app.require_subcommand(1);
  app.fallthrough(false);
  rfab::cli::add_decode(app);
  rfab::cli::add_synth(app);
  rfab::cli::add_doctor(app);
  rfab::cli::add_softroce(app);
  rfab::cli::add_collect(app);
  rfab::cli::add_validate(app);
  rfab::cli::add_perf(app);
  rfab::cli::add_emulate(app);
  rfab::cli::add_coll(app);
  rfab::cli::add_run(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // CLI11 uses exit code 0 for --help/--version; map every usage error to 2.
    int rc = app.exit(e);
    return rc == 0 ? 0 : 2;
  } catch (const rfab::cli::ExitError& e) {
    if (!e.message.empty()) report(e.message);
    return e.code;
  } catch (const std::exception& e) {
    report(e.what());
    return 2;
  }
  return 0;
}
