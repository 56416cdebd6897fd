// The verbs device of an rfab built without libibverbs: explains how to get one.
#include "rfab/endpoint/verbs_device.hpp"

namespace rfab::endpoint {

std::unique_ptr<Device> make_verbs_device(const VerbsConfig&) {
  throw EndpointError("verbs: this rfab was built without libibverbs (install libibverbs-dev and rebuild with "
                      "RFAB_WITH_VERBS=ON)");
}

bool verbs_device_present() { return false; }

}  // namespace rfab::endpoint
