"""rfab's torch.distributed backend.

    import rfab_torch                     # registers the backend "rfab"
    torch.distributed.init_process_group(backend="rfab")

Collectives on CPU tensors run over librfab: shared memory between the ranks of a host, RoCE v2 between hosts.
See docs/pytorch.md.
"""
import os
import socket

import torch.distributed as dist

from ._C import create_process_group as _create

__all__ = ["store_host"]


def store_host():
    """The address the other ranks reach this process at, which group rank 0 puts in rfab's unique id.

    RFAB_STORE_ADDR if set (rfab reads it itself), else this host's address on the route to MASTER_ADDR
    (the source address a socket connected there would use), else "" (rfab: this host's name).
    """
    if os.environ.get("RFAB_STORE_ADDR"):
        return ""
    master = os.environ.get("MASTER_ADDR", "")
    if not master:
        return ""
    try:
        family, _, _, _, addr = socket.getaddrinfo(master, 9, type=socket.SOCK_DGRAM)[0]
        with socket.socket(family, socket.SOCK_DGRAM) as s:
            s.connect(addr)  # UDP: no packet is sent, the kernel only picks the route and source address
            return s.getsockname()[0]
    except OSError:
        return ""


def _create_backend(store, rank, size, timeout):
    return _create(store, rank, size, timeout, store_host() if rank == 0 else "")


if "RFAB" not in dist.Backend._plugins:
    dist.Backend.register_backend("rfab", _create_backend)
