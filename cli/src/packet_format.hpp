// Human-readable and JSON renderings of a decoded RoCE v2 frame. JSON keys are Wireshark's field names
// with tshark's value formatting, so `rfab decode --json` can be diffed against `tshark -T json`.
#pragma once
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "rfab/wire/packet.hpp"

namespace rfab::cli {

std::string format_ip(const wire::Frame& f, bool src);
std::string format_line(uint64_t frame_no, double t_rel, const wire::Frame& f, bool show_icrc, bool icrc_ok);
nlohmann::ordered_json format_json(uint64_t frame_no, double t_rel, const wire::Frame& f, bool with_icrc,
                                   bool icrc_ok);

}  // namespace rfab::cli
