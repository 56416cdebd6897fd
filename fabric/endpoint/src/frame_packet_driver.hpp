// A PacketDriver over rfab::frame::FrameDriver, shared by the AF_XDP and DPDK glue.
#pragma once
#include <memory>

#include "rfab/endpoint/bypass_drivers.hpp"
#include "rfab/frame/frame_driver.hpp"

namespace rfab::endpoint {

frame::FrameDriverConfig frame_driver_config(const FrameDatapathConfig& c);
std::unique_ptr<PacketDriver> wrap_frame_driver(std::unique_ptr<frame::FrameDriver> driver);

}  // namespace rfab::endpoint
