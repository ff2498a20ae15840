#!/bin/sh
# ResNet-50 rows on ft-native and on the PyTorch peer, alternating, in one run (pnpm bench's rows).
# Usage, from the repository root: sh apps/cli/bench/compare-torch.sh
set -e
native() { pnpm exec tsx --conditions source apps/cli/bench/profile.ts "$@" 2>/dev/null | grep images_per_s; }
# The peer keeps freed memory as ft-native does (pnpm bench runs it the same way; see apps/cli/bench/run.ts).
torch() { MALLOC_MMAP_MAX_=0 MALLOC_TRIM_THRESHOLD_=107374182400 MALLOC_TOP_PAD_=1073741824 /usr/bin/python3 apps/cli/bench/torch_peer.py "$@" 2>/dev/null | tail -1; }
for row in "train 64 3" "train 224 2" "infer 224 3"; do
  set -- $row
  echo "== $1 $2 px batch 8, load: $(cut -d' ' -f1-3 /proc/loadavg)"
  native --row "$1" --size "$2" --batch 8 --steps "$3"
  torch --row "$1" --size "$2" --steps "$3"
done
