#include "app.hpp"

#include "commands.hpp"

namespace rfab::cli {

void build_app(CLI::App& app) {
  app.set_version_flag("--version", std::string("rfab ") + RFAB_VERSION);
  app.require_subcommand(1);
  app.fallthrough(false);
  add_decode(app);
  add_synth(app);
  add_gen(app);
  add_doctor(app);
  add_softroce(app);
  add_collect(app);
  add_validate(app);
  add_perf(app);
  add_emulate(app);
  add_coll(app);
  add_run(app);
  add_ping(app);
}

std::string unknown_subcommand(const CLI::App& app, int argc, const char* const* argv) {
  const CLI::App* cur = &app;
  std::string path = cur->get_name();
  for (int i = 1; i < argc; ++i) {
    const std::string word = argv[i];
    // Options (and what follows them) are CLI11's to read; a command with positionals takes words itself.
    if (word.empty() || word[0] == '-') return {};
    const auto subs = cur->get_subcommands([](const CLI::App*) { return true; });
    if (subs.empty()) return {};
    for (const CLI::Option* o : cur->get_options())
      if (o->get_positional()) return {};
    const CLI::App* next = nullptr;
    std::string names;
    for (const CLI::App* s : subs) {
      if (s->check_name(word)) next = s;
      names += (names.empty() ? "" : ", ") + s->get_name();
    }
    if (next == nullptr) return path + ": unknown command '" + word + "' (commands: " + names + ")";
    cur = next;
    path += " " + next->get_name();
  }
  return {};
}

}  // namespace rfab::cli
