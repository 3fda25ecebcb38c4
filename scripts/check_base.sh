#!/bin/bash
# Measure a finished base run against the two earlier bases (issue 42's targets), alone on the cores:
#
#     scripts/check_base.sh RUN_DIR OUT_DIR
#
# OUT_DIR/base-new.keras       the run's best checkpoint released (scripts/release_base.py), float32;
#                              release.json its report (prime, sha256, size)
# OUT_DIR/base-f16.keras       the same in float16, if that moves the held-out loss < 0.002
#                              nats/char (release-f16.json says by how much, or why not)
# OUT_DIR/base-released.keras  the base committed in charlstm/models/ before this release
# OUT_DIR/base-prev.keras      the one before it (c933cbf^), issue 42's "previous base"
# OUT_DIR/scores.txt           benchmarks/base_scores.py: the panel (each kind, the mean), the
#                              held-out tails of english and english-classic, the left-out plays,
#                              Macbeth's excerpt (tests/test_bundled_base.py)
# OUT_DIR/finetune.txt         benchmarks/finetune.py: four panel texts, 30K chars, 60 s, from
#                              scratch (3 seeds) and from each base (seed 1); lowercased Macbeth
#                              300 s from each base; generation speed of each (1 and 32 streams)
# OUT_DIR/samples.txt          `charlstm generate --seed N` from the new base, N = 1..5: the
#                              out-of-the-box text
# Nothing else may run meanwhile (benchmarks need both cores). ~80 minutes on machine G.
set -euo pipefail
run_dir=${1:?usage: scripts/check_base.sh RUN_DIR OUT_DIR}
out=${2:?usage: scripts/check_base.sh RUN_DIR OUT_DIR}
cd "$(dirname "$0")/.."
py=.venv/bin/python
mkdir -p "$out"
[ -f "$out/base-released.keras" ] || cp charlstm/models/base.keras "$out/base-released.keras"
[ -f "$out/base-prev.keras" ] || git show 'c933cbf^:charlstm/models/base.keras' > "$out/base-prev.keras"
"$py" scripts/release_base.py "$run_dir" --dest "$out/base-new.keras" | tee "$out/release.json"
"$py" scripts/release_base.py "$run_dir" --float16 --dest "$out/base-f16.keras" 2>&1 | tee "$out/release-f16.json" || true
new="$out/base-new.keras"
[ -f "$out/base-f16.keras" ] && new="$out/base-f16.keras"  # what would ship
for seed in 1 2 3 4 5; do
    echo "--- seed $seed"
    "$py" -m charlstm generate -c "$new" --seed "$seed" --length 600
    echo
done > "$out/samples.txt"
"$py" benchmarks/base_scores.py "$new" "$out/base-prev.keras" "$out/base-released.keras" \
    --held-out english,english-classic | tee "$out/scores.txt"
"$py" benchmarks/finetune.py --base "$new" "$out/base-prev.keras" "$out/base-released.keras" \
    --texts panel:verse panel:docs panel:changelog panel:informal --sizes 30000 --budgets 60 \
    --seeds 1 2 3 --finetune-seeds 1 --macbeth-seeds 1 | tee "$out/finetune.txt"
