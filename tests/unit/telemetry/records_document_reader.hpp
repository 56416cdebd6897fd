// The records reader before it streamed (reference for tests only; records_document_reader.cpp).
#pragma once
#include <istream>
#include <string>

#include "rfab/telemetry/records.hpp"

namespace rfab::telemetry::reference {

Measurement measure_records_document(std::istream& in, const std::string& name);

}  // namespace rfab::telemetry::reference
