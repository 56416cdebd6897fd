#include "softroce_shell.hpp"

#include <net/if.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>

#include "commands.hpp"
#include "rfab/base/env.hpp"

namespace fs = std::filesystem;

namespace rfab::cli {
namespace {

struct ShellOptions {
  std::string iface;
  std::string lib;
  std::vector<std::string> argv;
};

std::string self_exe() {
  std::error_code ec;
  const fs::path p = fs::read_symlink("/proc/self/exe", ec);
  return ec ? std::string() : p.string();
}

[[noreturn]] void run_shell(const ShellOptions& o) {
  if (o.argv.empty()) throw ExitError{2, "softroce shell: no program given (rfab softroce shell -- PROGRAM ARGS)"};
  if (!o.iface.empty() && ::if_nametoindex(o.iface.c_str()) == 0)
    throw ExitError{2, "softroce shell: --iface " + o.iface + ": no such network interface here"};
  std::vector<std::string> tried;
  const std::optional<std::string> lib = find_verbs_provider(self_exe(), o.lib, tried);
  if (!lib) {
    std::string where;
    for (const auto& t : tried) where += (where.empty() ? "" : ", ") + t;
    throw ExitError{2, "softroce shell: librfab-verbs.so not found (looked at " + where +
                           "); build the rfab_verbs_provider target or pass --lib"};
  }
  // The provider first; preloads the caller already had stay after it.
  std::string preload = *lib;
  if (std::optional<std::string> prev = env::get_string("LD_PRELOAD")) preload += ":" + *prev;
  ::setenv("LD_PRELOAD", preload.c_str(), 1);
  if (!o.iface.empty()) ::setenv("RFAB_VERBS_IFACE", o.iface.c_str(), 1);
  std::vector<char*> args;
  for (const auto& a : o.argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  ::execvp(args[0], args.data());
  throw ExitError{127, "softroce shell: cannot run " + o.argv[0] + ": " + std::strerror(errno)};
}

}  // namespace

std::optional<std::string> find_verbs_provider(const std::string& exe, const std::string& explicit_path,
                                               std::vector<std::string>& tried) {
  std::error_code ec;
  if (!explicit_path.empty()) {
    tried.push_back(explicit_path);
    if (!fs::is_regular_file(explicit_path, ec)) return std::nullopt;
    return fs::absolute(explicit_path, ec).string();
  }
  if (exe.empty()) return std::nullopt;
  const fs::path bin = fs::path(exe).parent_path();
  // The build tree (build/<preset>/cli/rfab, build/<preset>/lib/), then installed layouts.
  for (const fs::path& p : {bin / ".." / "lib" / "librfab-verbs.so", bin / ".." / "lib" / "rfab" / "librfab-verbs.so",
                            bin / ".." / "lib" / "x86_64-linux-gnu" / "librfab-verbs.so",
                            bin / "librfab-verbs.so"}) {
    tried.push_back(p.lexically_normal().string());
    if (fs::is_regular_file(p, ec)) return fs::weakly_canonical(p, ec).string();
  }
  return std::nullopt;
}

void add_softroce_shell(CLI::App* softroce) {
  auto o = std::make_shared<ShellOptions>();
  auto* shell = softroce->add_subcommand(
      "shell", "Run a libibverbs or librdmacm program on rfab's user-space RoCE (no kernel RDMA needed): -- PROGRAM ARGS");
  shell->add_option("--iface", o->iface,
                    "network interface to present as the RoCE device (default: every up interface with an address)");
  shell->add_option("--lib", o->lib, "path of librfab-verbs.so (default: next to the rfab binary)");
  shell->add_option("program", o->argv, "program and its arguments (after --)")->required();
  shell->callback([o] { run_shell(*o); });
}

}  // namespace rfab::cli
