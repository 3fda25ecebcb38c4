#!/bin/bash
# The base's second phase (issue 29): continue a finished first phase on the corpus with its
# Shakespeare weighted up, the same command every time (a later call resumes the run):
#
#     scripts/anneal_base.sh PHASE1_RUN RUN_DIR    # e.g. checkpoints/base-run checkpoints/base-phase2
#     python scripts/release_base.py RUN_DIR
#
# PHASE1_RUN: scripts/train_base.sh's finished run (19 epochs, 186M chars). The text is
# scripts/drama_mix.py's (written into RUN_DIR): the corpus's training part with two more
# copies of its Shakespeare (19% of it -> 39%), then the corpus's held-out tail unchanged, so
# the run validates on the very characters the first phase did. The phase starts from
# PHASE1_RUN's best weights with a fresh Adam (--init-from), warms up to 1e-3 over 300 steps
# (a fifth of the first phase's peak: it continues a model at its minimum rather than
# restarting it) and decays linearly to zero at --max-time, 95 minutes (~6 epochs of the
# 13.5M-char mix, ~90M chars at 16K chars/s on machine F). Why: at 19% the plays got the least
# of the first phase's chars, and the base is where most fine-tunes start from
# (tinyshakespeare, Macbeth). Measured and NOT released (benchmarks/RESULTS.md run 14): the tail's
# own Shakespeare gained 0.014 nats/char, every other source lost 0.005-0.019, and unseen plays
# and Macbeth did not gain; kept so the finding can be reproduced or the mix varied.
# A resume keeps the run's own budget (no --max-time on a resume: see training/resume.py).
set -euo pipefail
phase1=${1:?usage: scripts/anneal_base.sh PHASE1_RUN RUN_DIR}
run_dir=${2:?usage: scripts/anneal_base.sh PHASE1_RUN RUN_DIR}
cd "$(dirname "$0")/.."
py=.venv/bin/python
"$py" -m charlstm corpus fetch english > /dev/null
mkdir -p "$run_dir"
mix=$(realpath "$run_dir")/drama-mix.txt  # absolute: recorded in the checkpoint (release_base.py reads it)
[ -f "$mix" ] || "$py" scripts/drama_mix.py "$mix" --copies 2 > "$run_dir/val-fraction"
precision=$("$py" -c "from charlstm.training.tf_runtime import cpu_has_bfloat16 as f; print('--' if f() else '--no-', end='')")mixed-precision
common=(--checkpoint-dir "$run_dir" --patience 0 --save-every 1000 "$precision" --json)
if [ -f "$run_dir/last.keras" ]; then
  exec "$py" -m charlstm train "$mix" --resume "${common[@]}"
else
  exec "$py" -m charlstm train "$mix" --init-from "$phase1" --seed 1 --learning-rate 1e-3 --warmup-steps 300 \
    --val-fraction "$(cat "$run_dir/val-fraction")" --max-time 5700 "${common[@]}"
fi
