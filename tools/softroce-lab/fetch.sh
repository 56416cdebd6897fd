#!/usr/bin/env bash
# Fetches the guest's Debian packages (kernel, busybox, rdma-core, perftest, iproute2) with
# `apt-get download` and unpacks each with `dpkg -x` into one staging root, cached between runs.
# Usage: fetch.sh [CACHE_DIR]     (default: $RFAB_SOFTROCE_CACHE or ~/.cache/rfab-softroce)
# Prints the staging root on stdout. Re-running with everything present downloads nothing.
set -euo pipefail

CACHE=${1:-${RFAB_SOFTROCE_CACHE:-$HOME/.cache/rfab-softroce}}
DEBS=$CACHE/debs
ROOT=$CACHE/root
mkdir -p "$DEBS" "$ROOT"

# The Debian kernel: whatever linux-image-amd64 currently points at (a 6.1.0-N-amd64 on bookworm),
# unless RFAB_SOFTROCE_KERNEL names one.
kernel_pkg() {
  if [ -n "${RFAB_SOFTROCE_KERNEL:-}" ]; then echo "$RFAB_SOFTROCE_KERNEL"; return; fi
  local k
  k=$(apt-cache depends linux-image-amd64 2>/dev/null | sed -n 's/^ *Depends: \(linux-image-6\.1\.[^ ]*-amd64\)$/\1/p' | head -1)
  if [ -z "$k" ]; then
    echo "fetch.sh: cannot find a linux-image-6.1.*-amd64 package (is the Debian archive in apt sources? run apt-get update)" >&2
    exit 2
  fi
  echo "$k"
}

KPKG=$(kernel_pkg)
PKGS=("$KPKG" busybox-static
      libibverbs1 ibverbs-providers librdmacm1 libibumad3 libnl-3-200 libnl-route-3-200 libpci3 perftest
      ibverbs-utils rdma-core iproute2 libmnl0 libelf1 libbpf1 libbsd0 libmd0 libcap2 libdb5.3 libselinux1
      libpcre2-8-0 libtirpc3 libxtables12 zlib1g libgssapi-krb5-2 libkrb5-3 libk5crypto3 libkrb5support0
      libcom-err2 libkeyutils1 libudev1)

for p in "${PKGS[@]}"; do
  if ! ls "$DEBS/${p}_"*.deb >/dev/null 2>&1; then
    echo "fetch.sh: downloading $p" >&2
    (cd "$DEBS" && apt-get download -q "$p" >&2) || {
      echo "fetch.sh: apt-get download $p failed (no access to the Debian archive?)" >&2; exit 2; }
  fi
  stamp=$ROOT/.unpacked-$p
  if [ ! -e "$stamp" ]; then
    dpkg -x "$DEBS/${p}_"*.deb "$ROOT"
    touch "$stamp"
  fi
done

# modules.dep of the unpacked kernel (the package ships none; depmod writes it).
KVER=${KPKG#linux-image-}
if [ ! -s "$ROOT/lib/modules/$KVER/modules.dep" ]; then
  command -v depmod >/dev/null || { echo "fetch.sh: depmod not found (apt-get install kmod)" >&2; exit 2; }
  depmod -b "$ROOT" "$KVER"
fi
echo "$KVER" > "$ROOT/.kernel-version"
echo "$ROOT"
