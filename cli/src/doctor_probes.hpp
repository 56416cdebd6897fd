// `rfab doctor` probes: checks that touch the running system (kernel modules, sockets, DCB netlink).
// Every network wait has a deadline; probes only send to loopback or to the peers the user named.
#pragma once
#include <chrono>
#include <string>

#include "doctor_checks.hpp"

namespace rfab::cli::doctor {

// Does this kernel offer rdma_rxe (loaded, built in, or as a module file)? For hosts with no RDMA device.
Check probe_rxe_kernel(const std::string& sys_root = "/sys", const std::string& modules_root = "/lib/modules");

// rfab's user-space RoCE on 127.0.0.1 (doctor_loopback.cpp): two engine devices, an RC QP pair brought up
// through the endpoint layer, a SEND and an RDMA WRITE, ICRCs verified, payloads compared.
Check probe_userspace_loopback(std::chrono::milliseconds deadline = std::chrono::milliseconds(1000));

// UDP 4791 reachability of `peer` (numeric IPv4/IPv6): sends RoCE v2 ACKs addressed to a QP that does not
// exist (RoCE stacks drop them silently). An ICMP port-unreachable (ECONNREFUSED) means nothing listens on
// 4791 there; host/network unreachable means no route or no ARP answer; silence means the port is open.
Check probe_peer_udp(const std::string& peer, std::chrono::milliseconds deadline = std::chrono::milliseconds(1500));

// DSCP/ECN/PFC where visible: mlx5-style ECN sysfs knobs, rdma_cm's default RoCE ToS in configfs, and PFC
// from DCB netlink (RTM_GETDCB / DCB_CMD_IEEE_GET) on the port's netdev.
Check probe_qos(const PortInfo& p, const std::string& sys_root = "/sys");

}  // namespace rfab::cli::doctor
