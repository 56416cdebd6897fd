#!/usr/bin/env bash
# Builds the base initramfs of a soft-RoCE lab guest from the unpacked Debian packages (fetch.sh):
# busybox, the kernel modules rdma_rxe needs (plus crc32_generic, which modules.dep does not list),
# rdma-core (libibverbs + the rxe provider), the `rdma` tool, ibverbs-utils and perftest.
# Usage: build-initramfs.sh SYSROOT OUT.cpio.gz
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/lib.sh"
SYSROOT=$1 OUT=$2
KVER=$(cat "$SYSROOT/.kernel-version")
STAGE=$(mktemp -d "${TMPDIR:-/tmp}/rfl-initramfs.XXXXXX")
trap 'rm -rf "$STAGE"' EXIT

mkdir -p "$STAGE"/{bin,sbin,usr/bin,usr/sbin,etc,lib/x86_64-linux-gnu,lib64,lab,proc,sys,dev,tmp}
cp "$SYSROOT/bin/busybox" "$STAGE/bin/busybox"
install -m 755 "$HERE/guest-init.sh" "$STAGE/init"

# Kernel modules in load order. crc32_generic first: rdma_rxe asks the crypto API for "crc32".
# rdma_ucm (with rdma_cm, ib_cm, iw_cm) gives user space librdmacm.
MODS=(crc32_generic virtio_pci virtio_net rdma_rxe rdma_ucm)
: > "$STAGE/etc/lab-modules"
for m in $(module_closure "$SYSROOT" "$KVER" "${MODS[@]}"); do
  mkdir -p "$STAGE/lib/modules/$KVER/$(dirname "$m")"
  cp "$SYSROOT/lib/modules/$KVER/$m" "$STAGE/lib/modules/$KVER/$m"
  echo "$m" >> "$STAGE/etc/lab-modules"
done

# User space: dynamic loader, rdma-core with the rxe provider (dlopen'ed, so copied explicitly), tools.
cp -L /lib64/ld-linux-x86-64.so.2 "$STAGE/lib64/"
mkdir -p "$STAGE/etc/libibverbs.d" "$STAGE/usr/lib/x86_64-linux-gnu/libibverbs"
cp "$SYSROOT/etc/libibverbs.d/rxe.driver" "$STAGE/etc/libibverbs.d/"
copy_elf_with_libs "$STAGE" "$SYSROOT" "$SYSROOT/usr/lib/x86_64-linux-gnu/libibverbs/librxe-rdmav34.so" \
  /usr/lib/x86_64-linux-gnu/libibverbs/librxe-rdmav34.so
for b in ib_write_bw ib_send_bw ib_read_bw ib_write_lat ib_send_lat ib_read_lat ibv_devinfo ibv_devices \
         ibv_rc_pingpong rdma; do
  copy_elf_with_libs "$STAGE" "$SYSROOT" "$SYSROOT/usr/bin/$b" "/usr/bin/$b"
done
echo "/lib/x86_64-linux-gnu" > "$STAGE/etc/ld.so.conf"
printf 'root:x:0:0:root:/root:/bin/sh\n' > "$STAGE/etc/passwd"
printf 'root:x:0:\n' > "$STAGE/etc/group"
printf '127.0.0.1 localhost\n' > "$STAGE/etc/hosts"

mkdir -p "$(dirname "$OUT")"
(cd "$STAGE" && find . | LC_ALL=C sort | cpio -o -H newc --quiet | gzip -1) > "$OUT.tmp.$$"
mv "$OUT.tmp.$$" "$OUT"
