#!/bin/bash
# Measure a finished base run against the bundled base (issue 29's targets), alone on the cores:
#
#     scripts/check_base.sh RUN_DIR OUT_DIR
#
# OUT_DIR/base-new.keras   the run's best checkpoint released (scripts/release_base.py), float32
# OUT_DIR/base-old.keras   the base committed in charlstm/models/ before it is replaced
# OUT_DIR/release.json     the release (sha256, size); release-f16.json what float16 would cost
# OUT_DIR/macbeth-excerpt.json  both bases on Macbeth's chars 20,000-25,000 (test_bundled_base.py)
# OUT_DIR/part4.txt        benchmarks/finetune.py: new and old base fine-tuned against scratch on
#                          30K and 100K chars of the left-out plays, 60 s; Macbeth 300 s; speed
# OUT_DIR/part3.txt        the fine-tuning rate (1e-3, 3e-3, 3e-4) on three kinds of 30K text
# Nothing else may run meanwhile (benchmarks need both cores). ~50 minutes on machine F.
set -euo pipefail
run_dir=${1:?usage: scripts/check_base.sh RUN_DIR OUT_DIR}
out=${2:?usage: scripts/check_base.sh RUN_DIR OUT_DIR}
cd "$(dirname "$0")/.."
py=.venv/bin/python
mkdir -p "$out"
[ -f "$out/base-old.keras" ] || cp charlstm/models/base.keras "$out/base-old.keras"
"$py" scripts/release_base.py "$run_dir" --dest "$out/base-new.keras" | tee "$out/release.json"
# What float16 storage would cost (held-out before and after; it refuses a move of 0.002 nats/char)
"$py" scripts/release_base.py "$run_dir" --float16 --dest "$out/base-new-f16.keras" 2>&1 | tee "$out/release-f16.json" || true
"$py" - "$out" > "$out/macbeth-excerpt.json" <<'EOF'
import json, sys
from pathlib import Path
import charlstm
out = Path(sys.argv[1])
text = Path("../shared/corpora/macbeth.txt").read_text(encoding="utf-8")[20_000:25_000]
print(json.dumps({n: charlstm.load(str(out / f"{n}.keras")).evaluate(text=text) for n in ("base-new", "base-old")}))
EOF
cat "$out/macbeth-excerpt.json"
"$py" benchmarks/finetune.py --base "$out/base-new.keras" "$out/base-old.keras" --texts plays \
    --sizes 30000 100000 --budgets 60 --seeds 1 --macbeth-seeds 1 | tee "$out/part4.txt"
"$py" benchmarks/finetune.py --base "$out/base-new.keras" --texts plays code russian --sizes 30000 \
    --budgets 60 --seeds 1 --no-scratch --no-macbeth --recipe lr1e-3 "--learning-rate 1e-3" \
    --recipe lr3e-3 "--learning-rate 3e-3" --recipe lr3e-4 "--learning-rate 3e-4" | tee "$out/part3.txt"
