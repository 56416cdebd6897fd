// The kernel's RDMA netlink (NETLINK_RDMA, nldev client): list RDMA devices and create/remove software RDMA
// links, as iproute2's `rdma link add NAME type rxe netdev IFACE` / `rdma link delete NAME` do.
// Every request waits for the kernel's answer with a deadline; errors are RdmaNetlinkError with a message
// that says what the kernel lacks.
#pragma once
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace rfab::cli {

struct RdmaNetlinkError : std::runtime_error {
  int err;  // errno
  RdmaNetlinkError(int e, const std::string& what) : std::runtime_error(what), err(e) {}
};

struct RdmaDevice {
  uint32_t index = 0;
  std::string name;
};

class RdmaNetlink {
 public:
  // Throws RdmaNetlinkError when the kernel has no RDMA netlink (no ib_core).
  RdmaNetlink();
  ~RdmaNetlink();
  RdmaNetlink(const RdmaNetlink&) = delete;
  RdmaNetlink& operator=(const RdmaNetlink&) = delete;

  std::vector<RdmaDevice> devices();                                        // RDMA_NLDEV_CMD_GET dump
  void new_link(const std::string& name, const std::string& type, const std::string& netdev);  // NEWLINK
  void del_link(uint32_t index);                                            // DELLINK

 private:
  // Sends one request and collects the answers until NLMSG_DONE / the ACK; throws on NLMSG_ERROR.
  std::vector<std::vector<uint8_t>> transact(std::vector<uint8_t> req, bool dump);
  int fd_ = -1;
  uint32_t seq_ = 1;
};

}  // namespace rfab::cli
