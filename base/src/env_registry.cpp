// Every environment variable rfab reads. docs/environment.md is generated from / checked against this
// table (tests/unit/base/test_env_doc.cpp); env::raw() refuses names that are not here.
#include <array>

#include "rfab/base/env.hpp"

namespace rfab::env {
namespace {

constexpr std::array kVars = std::to_array<Var>({
    // --- collectives: communicator and transports
    {"RFAB_ALGO", "spec", "auto", "collectives",
     "algorithm per collective: one name (ring, rhd, rd, tree, chain, bruck, pairwise, hier, auto) or "
     "collective=name pairs, e.g. allreduce=rhd,broadcast=chain"},
    {"RFAB_PROTO", "choice", "auto", "collectives",
     "pipelining chunk: LL (16 KiB, latency) or Simple (256 KiB, bandwidth); unset picks by message size"},
    {"RFAB_HOSTNAME", "string", "gethostname()", "collectives",
     "logical host name of this rank: ranks with the same name form one host group for hierarchical algorithms"},
    {"RFAB_SHM", "bool", "1", "collectives",
     "0 sends everything between ranks over RoCE, even ranks on one machine (tests, measurements)"},
    {"RFAB_JOB_ID", "string", "env-<MASTER_PORT>", "collectives",
     "key prefix of this job in the rendezvous store and the job identity the store checks (rfab run sets a random one)"},
    {"RFAB_SPIN_US", "unsigned", "200 (2 when oversubscribed)", "collectives",
     "microseconds a waiting rank spins before sleeping, 0..1000000"},
    {"RFAB_SHM_MSG_PHASE", "unsigned", "2048", "collectives",
     "byte offset between a shared-memory message's source and destination phase (0: off; A/B experiments)"},
    {"RFAB_SHM_RING_BYTES", "unsigned", "4 MiB per pair, shrinking with peers", "collectives",
     "shared-memory ring per peer, a power of two in [4096, 2^30]"},
    {"RFAB_TIMEOUT", "seconds", "30", "collectives", "seconds a collective or the bootstrap waits, in (0, 86400]"},
    {"RFAB_ISA", "choice", "best supported", "collectives", "reduction kernels: generic, avx2 or avx512"},
    {"RFAB_STORE_ADDR", "address", "this host's address", "collectives",
     "address other ranks use to reach the store this process hosts (C API)"},
    {"RFAB_STORE_EXTERNAL", "bool", "0", "collectives",
     "anything but 0: the launcher hosts the rendezvous store, rank 0 must not"},
    {"RFAB_STORE_PORT", "unsigned", "MASTER_PORT", "collectives",
     "port of rfab's rendezvous store when it is not MASTER_PORT (rfab run, whose MASTER_PORT is PyTorch's)"},
    {"RFAB_TRANSPORT", "choice", "auto", "collectives", "RoCE provider: udp, verbs or auto"},
    {"RFAB_DATAPATH", "choice", "udp", "collectives",
     "what carries rfab's engine's packets: udp (kernel sockets), afxdp (AF_XDP sockets on RFAB_ROCE_IFACE or the "
     "address's interface) or dpdk (RFAB_DPDK_ARGS); verbs is the same as RFAB_TRANSPORT=verbs"},
    {"RFAB_DPDK_ARGS", "string", "-", "collectives",
     "DPDK EAL arguments of the dpdk datapath (rfab perf --dpdk-args, RFAB_DATAPATH=dpdk), e.g. "
     "--no-huge -m 512 --no-pci --no-shconf --vdev=net_af_packet0,iface=veth0"},
    {"RFAB_ROCE_ADDR", "address", "the store connection's local address", "collectives",
     "local IPv4/IPv6 address of the RoCE transport"},
    {"RFAB_ROCE_IFACE", "string", "-", "collectives", "take the RoCE address from this interface"},
    {"RFAB_ROCE_PORT", "unsigned", "0 (kernel picks)", "collectives",
     "base UDP port of the RoCE transport; ranks on one IP add their local index"},
    {"RFAB_ROCE_RING_BYTES", "unsigned", "4 MiB", "collectives",
     "RoCE receive ring per peer, a power of two in [64 KiB, 256 MiB]"},
    {"RFAB_ROCE_MTU", "unsigned", "from the link MTU", "collectives", "RoCE path MTU: 256, 512, 1024, 2048 or 4096"},
    {"RFAB_ROCE_WRITE_BYTES", "unsigned", "256 KiB", "collectives", "largest RDMA WRITE, 4096 .. 2^30"},
    {"RFAB_ROCE_SPIN_US", "unsigned", "0", "collectives",
     "microseconds the RoCE datapath polls before sleeping, 0..1000000"},
    {"RFAB_ROCE_VERIFY_ICRC", "bool", "0", "collectives", "1 checks the ICRC of every received packet (0 or 1)"},
    {"RFAB_ROCE_ZERO_COPY_MIN", "unsigned", "64 KiB", "collectives",
     "smallest message sent from the user buffer without staging (bytes, or off)"},
    {"RFAB_ROCE_LANDING_MIN", "unsigned", "256 KiB", "collectives",
     "smallest receive the peer writes straight into the user buffer, no copy from the ring (bytes, or off)"},
    {"RFAB_ROCE_FAULTS", "spec", "-", "collectives",
     "receive-side fault injection of the RoCE transport, e.g. drop=1%,reorder=2%,seed=7"},
    {"RFAB_ROCE_INLINE", "bool", "1", "collectives",
     "1: a waiting rank progresses RoCE itself; 0: only the datapath thread does (0 or 1)"},
    {"RFAB_ROCE_DEVICE", "string", "first usable", "collectives", "RDMA device of the verbs provider"},
    {"RFAB_ROCE_CC", "spec", "none", "collectives",
     "congestion control of rfab's engine: none or dcqcn[:key=value,...] (as rfab perf --cc)"},
    {"RFAB_ROCE_LINE_RATE", "rate", "100G", "collectives",
     "the rate congestion control starts from and never exceeds, in bits/s (e.g. 25G)"},
    {"RFAB_ROCE_SPRAY", "unsigned", "1", "collectives",
     "UDP source ports (entropies) each QP sprays its packets over, 1..256; >1 only between rfab engines"},
    {"RFAB_ROCE_ADAPTIVE", "bool", "0", "collectives",
     "1 steers the spray (RFAB_ROCE_SPRAY >= 2) away from ports that draw CNPs, NAKs or long round trips"},
    {"RFAB_ROCE_RECOVERY", "choice", "selective", "collectives",
     "loss recovery between rfab engines: selective or go-back-n (verbs peers always go-back-n)"},
    {"RFAB_ROCE_DEBUG", "bool", "0", "collectives", "1 prints the RoCE datapath's counters on stderr at exit"},
    // --- launchers (collectives/src/launch_env.cpp)
    {"RANK", "unsigned", "0", "launcher", "rank of this process (rfab run, torchrun)"},
    {"WORLD_SIZE", "unsigned", "1", "launcher", "number of ranks (rfab run, torchrun)"},
    {"LOCAL_RANK", "unsigned", "RANK", "launcher", "rank among the processes of this node"},
    {"LOCAL_WORLD_SIZE", "unsigned", "WORLD_SIZE", "launcher", "processes on this node"},
    {"MASTER_ADDR", "address", "127.0.0.1", "launcher", "host of the rendezvous store (every launcher)"},
    {"MASTER_PORT", "unsigned", "29500 or derived from the job id", "launcher", "port of the rendezvous store"},
    {"OMPI_COMM_WORLD_RANK", "unsigned", "-", "launcher", "OpenMPI: rank"},
    {"OMPI_COMM_WORLD_SIZE", "unsigned", "-", "launcher", "OpenMPI: number of ranks"},
    {"OMPI_COMM_WORLD_LOCAL_RANK", "unsigned", "OMPI_COMM_WORLD_RANK", "launcher", "OpenMPI: rank on this node"},
    {"OMPI_COMM_WORLD_LOCAL_SIZE", "unsigned", "OMPI_COMM_WORLD_SIZE", "launcher", "OpenMPI: ranks on this node"},
    {"PMIX_NAMESPACE", "string", "-", "launcher", "OpenMPI: job identifier the store port is derived from"},
    {"OMPI_MCA_ess_base_jobid", "string", "-", "launcher", "OpenMPI: job identifier when PMIX_NAMESPACE is unset"},
    {"SLURM_PROCID", "unsigned", "-", "launcher", "Slurm: rank"},
    {"SLURM_NTASKS", "unsigned", "-", "launcher", "Slurm: number of ranks"},
    {"SLURM_LOCALID", "unsigned", "0", "launcher", "Slurm: rank on this node"},
    {"SLURM_NTASKS_PER_NODE", "string", "-", "launcher", "Slurm: tasks on this node (\"4\" or \"4(x2)\")"},
    {"SLURM_NNODES", "unsigned", "-", "launcher", "Slurm: number of nodes"},
    {"SLURM_JOB_NODELIST", "string", "-", "launcher", "Slurm: hosts of the job; the first hosts the store"},
    {"SLURM_NODELIST", "string", "-", "launcher", "Slurm: older name of SLURM_JOB_NODELIST"},
    {"SLURM_JOB_ID", "string", "-", "launcher", "Slurm: job identifier the store port is derived from"},
    // --- fabric
    // --- NCCL net plugin (plugins/nccl_net)
    {"RFAB_NCCL_IFACE", "string", "all but lo and docker*", "nccl-net",
     "interfaces the NCCL plugin makes devices of, NCCL_SOCKET_IFNAME syntax: name prefixes, ^ excludes, = exact names"},
    {"NCCL_SOCKET_IFNAME", "string", "-", "nccl-net", "read by the NCCL plugin when RFAB_NCCL_IFACE is unset"},
    {"RFAB_NCCL_TRANSPORT", "choice", "auto", "nccl-net",
     "the NCCL plugin's RC provider: udp (rfab's engine over kernel UDP), verbs or auto (verbs when an RDMA device is present)"},
    {"RFAB_NCCL_TIMEOUT", "unsigned", "30", "nccl-net",
     "seconds the NCCL plugin's connection set-up waits for the peer at each step, 1..3600"},
    {"RFAB_CRC32", "choice", "fastest supported", "wire",
     "clmul or portable turns the faster CRC32 paths off (benchmarks, tests)"},
    {"RFAB_VERBS_DEVICE", "string", "first usable", "verbs", "RDMA device (rfab perf --verbs, verbs datapath)"},
    {"RFAB_VERBS_PORT", "unsigned", "first active", "verbs", "RDMA device port, 0..65535"},
    {"RFAB_VERBS_GID_INDEX", "unsigned", "the RoCE v2 IPv4 GID", "verbs", "GID index, 0..65535"},
    {"RFAB_VERBS_IFACE", "string", "every up interface with an address", "verbs provider",
     "librfab-verbs.so: comma-separated network interfaces (IFACE or IFACE@ADDRESS), one RoCE v2 device (rfab_<iface>) each"},
    {"LD_PRELOAD", "string", "-", "softroce shell", "libraries the caller preloads; rfab softroce shell puts librfab-verbs.so first and keeps them after it"},
    // --- telemetry
    {"RFAB_TELEMETRY_HOLE_TIMEOUT", "duration", "4ms", "telemetry",
     "the eBPF and DPDK collectors' hole timeout (rfab collect, rfab validate) when `--hole-timeout` is not given: a request PSN missing longer than this is lost, and its later arrival counted late rather than reordered; 0s turns the time bound off; at most 60s"},
    // --- tests and benchmarks
    {"RFAB_RC_TRACE", "bool", "unset", "tests", "set: the RC unit-test harness prints every packet"},
    {"BENCH_TELEMETRY_AA", "choice", "unset", "bench",
     "bench_telemetry: set, a second empty program stands in for the collector (calibration); read: the BTH reader"},
    {"BENCH_TELEMETRY_QPS", "unsigned", "1", "bench", "bench_telemetry: queue pairs (flows), 1..4096"},
    {"BENCH_TELEMETRY_BURST", "unsigned", "1", "bench", "bench_telemetry: frames per burst, a divisor of 256"},
    {"BENCH_TELEMETRY_COST_ONLY", "bool", "unset", "bench",
     "bench_telemetry: set, only the per-program cost is measured"},
    {"BENCH_TELEMETRY_HOOKS", "string", "all", "bench", "bench_telemetry: only these hooks, e.g. \"tc xdp\""},
    {"GLOO_STORE_DIR", "path", "-", "bench", "bench_coll_gloo: directory of Gloo's file store, shared by the ranks"},
    {"GLOO_HOSTNAME", "address", "127.0.0.1", "bench", "bench_coll_gloo: address this rank listens on"},
});

}  // namespace

std::span<const Var> registry() { return kVars; }

}  // namespace rfab::env
