// Every `rfab` subcommand: add_<name>(app) declares its flags and sets the callback that runs it.
// Conventions: `--json` switches output to JSON; exit code 0 success, 1 check failed, 2 bad input/usage.
#pragma once
#include <CLI/CLI.hpp>

namespace rfab::cli {

// Thrown by a subcommand to exit with a code after printing `what()` to stderr.
struct ExitError {
  int code;
  std::string message;
};

void add_decode(CLI::App& app);
void add_synth(CLI::App& app);
void add_gen(CLI::App& app);       // RoCE v2 traffic generator
void add_doctor(CLI::App& app);    // soft-RoCE lab
void add_softroce(CLI::App& app);  // soft-RoCE lab
void add_collect(CLI::App& app);   // telemetry
void add_validate(CLI::App& app);  // telemetry
void add_perf(CLI::App& app);      // UDP datapath: rfab perf
void add_emulate(CLI::App& app);   // fabric emulator
void add_coll(CLI::App& app);      // collectives: rfab coll
void add_run(CLI::App& app);       // collectives: rfab run -n N -- PROGRAM
void add_ping(CLI::App& app);      // RoCE probe mesh: rfab ping

}  // namespace rfab::cli
