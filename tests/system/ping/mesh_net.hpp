// N "hosts" (network namespaces) on one switch (a bridge in a namespace of its own), created for one test
// and removed by the destructor, also when the test fails. Names carry the "rpg" prefix, the process id and
// a counter, so concurrent runs do not collide; meshes left behind by a killed run are swept at the next
// start. Host i has address 10.92.0.(i+1)/24 on its interface `eth0`.
#pragma once
#include <string>
#include <vector>

namespace rfab::systest {

class MeshNet {
 public:
  explicit MeshNet(size_t hosts);
  ~MeshNet();
  MeshNet(const MeshNet&) = delete;
  MeshNet& operator=(const MeshNet&) = delete;

  std::string ns_switch;
  std::vector<std::string> ns;  // per host
  std::vector<std::string> ip;  // per host
  // Cuts host i off the switch (its link down): nothing reaches it, nothing leaves it.
  void isolate(size_t i) const;
  // A host file listing every host, written under /tmp; returns its path.
  std::string host_file() const;

 private:
  void teardown();
};

}  // namespace rfab::systest
