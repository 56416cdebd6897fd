// rfab: RoCE v2 fabric toolkit command line.
#include <cstdio>
#include <iostream>

#include "commands.hpp"

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
    if (!e.message.empty()) std::cerr << "rfab: " << e.message << "\n";
    return e.code;
  } catch (const std::exception& e) {
    std::cerr << "rfab: " << e.what() << "\n";
    return 2;
  }
  return 0;
}
