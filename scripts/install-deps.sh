#!/usr/bin/env bash
# Installs everything rfab needs to build, test and run its demo on Debian 12.
# Idempotent: packages already present are skipped, so a second run is fast.
set -euo pipefail

PKGS=(
  # toolchain
  build-essential cmake ninja-build pkg-config git clang llvm lld libclang-rt-14-dev
  # protocol and datapath dependencies
  libibverbs-dev librdmacm-dev rdma-core ibverbs-utils libdpdk-dev dpdk-dev
  libbpf-dev bpftool libelf-dev
  # libraries
  libcli11-dev libgtest-dev libgmock-dev libbenchmark-dev nlohmann-json3-dev libpcap-dev zlib1g-dev libcpp-httplib-dev
  # system tests, peers and cross-checks
  tshark iproute2 iperf3 ethtool util-linux procps jq
  # collectives peers: OpenMPI and Gloo side by side with rfab coll
  openmpi-bin libopenmpi-dev libgloo-dev
  # soft-RoCE lab (tools/softroce-lab): qemu guests, initramfs, bridge capture, depmod
  qemu-system-x86 busybox-static cpio tcpdump kmod
  # PyTorch backend (rfab_torch): Debian's torch 1.13 for /usr/bin/python3, its C++ headers, pybind11
  python3-torch libtorch-dev python3-dev pybind11-dev python3-numpy
  # bring-up: a real Prometheus scraping rfab's exporters
  prometheus
  # soft-RoCE provider tests: unmodified verbs and rdma_cm programs
  perftest rdmacm-utils
  # emulator reports: rendered and screenshotted by headless Chromium in a test, the PNG read with PIL
  chromium python3-pil
)

missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#PKGS[@]} packages present"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
# wireshark-common asks whether non-root users may capture; answer no without a prompt.
echo "wireshark-common wireshark-common/install-setuid boolean false" | $SUDO debconf-set-selections
echo "install-deps: installing ${missing[*]}"
$SUDO apt-get update -o DPkg::Lock::Timeout=600 -qq
$SUDO apt-get install -y --no-install-recommends -o DPkg::Lock::Timeout=600 -qq "${missing[@]}"
