// The whole `rfab` command line: every subcommand registered on one CLI11 app, and the check main() makes
// before CLI11 parses. Shared by main() and the tests that walk the real option tables.
#pragma once
#include <CLI/CLI.hpp>
#include <string>

namespace rfab::cli {

// Registers every subcommand (commands.hpp) on `app` and sets the top-level behaviour.
void build_app(CLI::App& app);

// CLI11 reads a word that names no subcommand as a stray positional: it prints the main help with exit 0
// ("rfab gen --help") or "A subcommand is required". This walks the words where a subcommand is expected
// and returns a message naming the first one that is not a subcommand there, with the valid names
// ("unknown command 'gen' (commands: decode, synth, ...)"); empty when there is none.
std::string unknown_subcommand(const CLI::App& app, int argc, const char* const* argv);

}  // namespace rfab::cli
