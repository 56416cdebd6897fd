#!/usr/bin/env bash
# The README's "Use from PyTorch" example, as printed there, under `rfab run -n 2`: both ranks print the sum.
source "$(dirname "$0")/common.sh"
: "${RFAB_SOURCE_DIR:?}"
# The first ```python block after the heading.
awk '/^## Use from PyTorch/ {s=1} s && /^```python/ {p=1; next} p && /^```/ {exit} p' \
  "$RFAB_SOURCE_DIR/README.md" >"$WORK/train.py"
[ -s "$WORK/train.py" ] || { echo "no python example under '## Use from PyTorch' in README.md" >&2; exit 1; }
"$RFAB" run -n 2 --timeout 60 -- "$PY" "$WORK/train.py" | tee "$WORK/out"
grep -q "^\[0\] rank 0: \[1.0, 1.0, 1.0\]" "$WORK/out"
grep -q "^\[1\] rank 1: \[1.0, 1.0, 1.0\]" "$WORK/out"
