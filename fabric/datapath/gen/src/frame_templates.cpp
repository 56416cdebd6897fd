#include "frame_templates.hpp"

#include <algorithm>
#include <cstring>

#include "rfab/wire/bytes.hpp"

namespace rfab::gen {
namespace {

constexpr uint32_t k24 = 0xFFFFFF;
constexpr size_t kIcrcLen = 4;
constexpr size_t kMaxShapesPerFlow = 64;  // a bound on memory should a flow's shapes ever keep changing
constexpr size_t kScratchRoom = 8192;     // more than any frame of a 4096-byte MTU
constexpr size_t kMaxKins = 64;           // kins looked through when a template is made (a bound on that)
constexpr size_t kMaxKinRange = 64;       // past this, writing a kin's range saves little over a whole copy

}  // namespace

FrameTemplates::FrameTemplates(const GenConfig& c, BuildFn from_scratch)
    : from_scratch_(std::move(from_scratch)), qps_(c.qps), flows_(2 * size_t{c.qps}), last_(2 * size_t{c.qps}, nullptr) {}

FrameTemplates::Shape FrameTemplates::shape_of(const GenPacket& p) {
  Shape s;
  s.qp = p.qp;
  s.payload_len = p.payload_len;
  s.rkey = p.rkey;
  s.dma_len = p.dma_len;
  s.va = p.va;
  s.opcode = p.opcode;
  s.syndrome = p.syndrome;
  s.reverse = p.reverse;
  s.ack_req = p.ack_req;
  s.ce = p.ce;
  return s;
}

// The bytes (ICRC aside) where `changed` differs from `base` must be none or three in a row: the field.
bool FrameTemplates::locate(const std::vector<uint8_t>& base, const std::vector<uint8_t>& changed, Field& f,
                            bool& found) {
  found = false;
  if (base.size() != changed.size()) return false;
  const size_t end = base.size() - kIcrcLen;
  size_t first = end, last = 0, n = 0;
  for (size_t i = 0; i < end; ++i)
    if (base[i] != changed[i]) {
      first = std::min(first, i);
      last = i;
      ++n;
    }
  if (n == 0) return true;
  if (n != 3 || last - first != 2) return false;  // 0 against 0xFFFFFF: all three bytes differ
  f.at = first;
  for (size_t k = 0; k < 3; ++k) f.delta[k] = &crc_delta_.table(end - (f.at + k) - 1);
  found = true;
  return true;
}

FrameTemplates::Template FrameTemplates::make(const GenPacket& p) {
  auto build = [&](uint32_t psn, uint32_t msn) {
    GenPacket q = p;
    q.psn = psn;
    q.msn = msn;
    std::vector<uint8_t> out(kScratchRoom);
    out.resize(from_scratch_(q, out));
    return out;
  };
  Template t;
  t.shape = shape_of(p);
  t.bytes = build(0, 0);
  if (t.bytes.size() <= kIcrcLen) return t;
  t.icrc = wire::load_le32(t.bytes.data() + t.bytes.size() - kIcrcLen);
  bool psn_found = false;
  const std::vector<uint8_t> psn_ones = build(k24, 0), msn_ones = build(0, k24);
  if (!locate(t.bytes, psn_ones, t.psn, psn_found) || !psn_found) return t;
  if (!locate(t.bytes, msn_ones, t.msn, t.has_msn)) return t;
  t.patchable = true;
  // Patching has to give exactly what building from scratch gives, or the shape is built from scratch.
  std::vector<uint8_t> patched(t.bytes.size());
  GenPacket q = p;
  q.psn = 0x5A3C01;
  q.msn = 0xA5C31E;
  patch(t, q, patched.data());
  std::vector<uint8_t> reference(kScratchRoom);
  reference.resize(from_scratch_(q, reference));
  t.patchable = patched == reference;
  if (t.patchable) join_kin(t);
  return t;
}

void FrameTemplates::join_kin(Template& t) {
  const size_t n = t.bytes.size(), end = n - kIcrcLen;  // the PSN and MSN bytes are 0 in every template
  for (Kin& k : kins_) {
    if (k.bytes.size() != n || k.psn_at != t.psn.at || k.has_msn != t.has_msn || (t.has_msn && k.msn_at != t.msn.at))
      continue;
    size_t lo = k.lo, hi = k.hi;
    for (size_t i = 0; i < end; ++i) {
      if (k.bytes[i] == t.bytes[i]) continue;
      lo = lo == hi ? i : std::min(lo, i);
      hi = std::max(hi, i + 1);
    }
    if (hi - lo > kMaxKinRange) continue;
    k.lo = lo;
    k.hi = hi;
    t.kin = &k;
    return;
  }
  if (kins_.size() == kMaxKins) return;
  Kin& k = kins_.emplace_back();
  k.bytes = t.bytes;
  k.psn_at = t.psn.at;
  k.has_msn = t.has_msn;
  k.msn_at = t.msn.at;
  t.kin = &k;
}

const FrameTemplates::Template* FrameTemplates::find(const GenPacket& p) {
  if (p.qp >= qps_) return nullptr;
  const size_t flow = (p.reverse ? qps_ : 0) + p.qp;
  std::deque<Template>& shapes = flows_[flow];
  const Template*& last = last_[flow];
  const Shape s = shape_of(p);
  for (const Template& t : shapes)
    if (t.shape == s) return last = &t;
  if (shapes.size() == kMaxShapesPerFlow) {
    shapes.clear();
    ++generation_;  // buffers noted as holding one of them are unknown again
  }
  shapes.push_back(make(p));
  return last = &shapes.back();
}

}  // namespace rfab::gen
