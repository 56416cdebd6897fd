// Umbrella header for the RC engine.
#pragma once
#include "rfab/rc/cq.hpp"
#include "rfab/rc/memory.hpp"
#include "rfab/rc/qp.hpp"
#include "rfab/rc/rx_check.hpp"
#include "rfab/rc/types.hpp"
