#!/usr/bin/env bash
# Every collective and dtype across two network namespaces (RoCE between the ranks), exact.
source "$(dirname "$0")/common.sh"
make_namespaces
run_in_namespaces "$HERE/check_collectives.py" --sizes 1,7,1000003
