#!/usr/bin/env bash
# Rebuild the reference runs' cached weights (runs/ is a cache that a new machine lacks) with the code
# they were trained with: a git worktree pinned to the commit in their run.json, training into this
# checkout's runs/ (MOTE_RUNS), so the runner and the mechanism entries find them under the same cache key.
# Training only: no scores are computed here. Resumable (checkpoints every 20 steps): run it again.
#
#   nice -n 19 bash scripts/rebuild_reference_weights.sh [ENTRY ...]    # default: MoTE/IC seeds 0-5, then EM 0-2
#
# Threads as recorded in each entry's run.json (seed 0: 1 thread, the rest 2).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
COMMIT=${COMMIT:-c40a753b4c99f14e5e8cad8f2e8fb5958ec0a179}
WORKTREE=${WORKTREE:-/work/ref}
if [ ! -d "$WORKTREE" ]; then git worktree add --detach "$WORKTREE" "$COMMIT"; fi
test "$(git -C "$WORKTREE" rev-parse HEAD)" = "$COMMIT" || { echo "rebuild: $WORKTREE is not at $COMMIT; remove it (git worktree remove) and rerun" >&2; exit 2; }
ENTRIES=("$@")
if [ ${#ENTRIES[@]} -eq 0 ]; then
  for s in 0 1 2 3 4 5; do ENTRIES+=("mote-s$s" "ic-s$s"); done
  ENTRIES+=(em-s0 em-s1 em-s2)
fi
for name in "${ENTRIES[@]}"; do
  threads=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['threads'])" "results/reference/runs/$name/run.json")
  echo "[rebuild] $name at ${COMMIT:0:7}, $threads thread(s), $(date -u +%FT%TZ)"
  (cd "$WORKTREE" && MOTE_RUNS="$ROOT/runs" OMP_NUM_THREADS=$threads PYTHONPATH="$WORKTREE" "$ROOT/.venv/bin/python" -c "
import sys, time, torch
torch.set_num_threads($threads)
from mote_lib.lab.runner import Entry
from mote_lib.lab.runs import trained_model
label, seed = sys.argv[1].rsplit('-s', 1)
t = time.perf_counter()
folder = trained_model(Entry('reference', label, int(seed)).config(), show_progress=False)
print(f'[rebuild] {sys.argv[1]}: {folder.name} in {time.perf_counter() - t:.0f} s', flush=True)
" "$name")
done
