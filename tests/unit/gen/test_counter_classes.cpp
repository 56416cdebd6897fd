// The user-space collector's opcode classes (FrameCounter) are the eBPF programs' generated table, all 256.
#include <gtest/gtest.h>

#include "rfab/telemetry/frame_counter.hpp"
#include "rfab_opcode_classes.h"

namespace {

constexpr uint8_t kClassOf[256] = RFAB_OPCODE_CLASS_TABLE;

TEST(FrameCounterClasses, SameAsTheEbpfTable) {
  for (unsigned op = 0; op < 256; ++op) {
    const uint8_t cls = rfab::telemetry::opcode_class(static_cast<uint8_t>(op));
    EXPECT_EQ(cls, kClassOf[op]) << "opcode " << op;
    EXPECT_EQ(rfab::telemetry::opcode_class_is_request(cls), ((RFAB_OPC_REQUEST_MASK >> cls) & 1u) != 0) << op;
  }
}

}  // namespace
