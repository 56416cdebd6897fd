// The compiled half of the rfab_torch package (rfab_torch._C): the backend's creator function. The package's
// __init__.py registers it with torch.distributed under the name "rfab".
#include <pybind11/chrono.h>
#include <torch/csrc/utils/pybind.h>

#include "rfab_process_group.hpp"

namespace py = pybind11;

PYBIND11_MODULE(_C, m) {
  m.doc() = "rfab's torch.distributed backend (a c10d::ProcessGroup over librfab)";
  // Torch's own module registers ProcessGroup and Store with intrusive_ptr holders; importing it first lets
  // pybind11 convert the arguments and the result.
  py::module_::import("torch.distributed");
  m.def("create_process_group", &rfab_torch::create_process_group, py::arg("store"), py::arg("rank"),
        py::arg("size"), py::arg("timeout"), py::arg("store_host") = std::string(),
        py::call_guard<py::gil_scoped_release>(),
        "Creates an rfab process group; collective: every rank of the group calls it.");
}
