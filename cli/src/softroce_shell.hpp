// rfab softroce shell [--iface IF] [--lib PATH] -- PROGRAM ARGS: runs an unmodified libibverbs program on
// rfab's user-space RoCE (librfab-verbs.so preloaded, the device chosen by interface).
#pragma once
#include <CLI/CLI.hpp>
#include <optional>
#include <string>
#include <vector>

namespace rfab::cli {

void add_softroce_shell(CLI::App* softroce);

// The provider library: `explicit_path` when given (it must exist), else the first of the places a build
// tree or an installation puts it next to `exe` (the rfab binary). nullopt when there is none; `tried`
// receives the paths looked at.
std::optional<std::string> find_verbs_provider(const std::string& exe, const std::string& explicit_path,
                                               std::vector<std::string>& tried);

}  // namespace rfab::cli
