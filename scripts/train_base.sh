#!/bin/bash
# Train the bundled base model (issues 29 and 42), or continue its run: the same command every time.
#
#     scripts/train_base.sh RUN_DIR [FLAG…]   # e.g. checkpoints/base-run (git-ignored)
#     python scripts/release_base.py RUN_DIR
#
# FLAGs are `charlstm train` options for the first call, after (so overriding) the recipe's
# own below; a resume ignores them and keeps the run's own (its --epochs too, so the
# schedule never moves).
#
# Issue 42's recipe, chosen on the panel of unseen text (RESULTS run 21: `python
# scripts/choose_recipe.py DIR --budget 600`, machine G, one seed, float32, --state-reset 0.01):
# panel mean after 10 minutes, dropout 0.1 2.167, dropout 0.2 2.190, dropout 0 2.223, dropout 0
# with weight decay 0.1 2.232; the corpus's own held-out tail ranked them the other way (2.242 bits/char for
# dropout 0, 2.249 for 0.1): the tail rewards fitting the corpus, the panel knowing English.
# 5 epochs of the 34.1M
# training chars are 171M chars, 0.92x the 2026-12-06 base's compute: ~3.2 hours at machine
# G's 15K chars/s. 2x300 stays unless a measured size wins on the panel within the 10 MB
# file and the speed bound.
#
# The first call starts the run (seed 1); a later one resumes it from RUN_DIR's last
# checkpoint, so a machine stopped mid-run loses at most --save-every steps (~3 min at 2x300, ~5 at 2x400).
# A run outlives its machine only through the repository (nothing else here survives a
# session): stop it (SIGTERM, wait for "interrupted: checkpoint written"), then
#     cp RUN_DIR/last.keras base-run/last.keras && git add base-run/last.keras
# and commit. With no last.keras in RUN_DIR, this script resumes from base-run/last.keras
# when it exists (20 MB with Adam's slots: commit it once, delete it with the release; the
# run behind today's base was parked so at epoch 15 and deleted by its release, RESULTS run 13;
# run 15's 2x400 at epoch 8 of 15, deleted when it finished: `git show 7cc19ba:base-run/last.keras`).
# The schedule is planned by steps (--epochs, no --max-time): the linear decay spans the
# whole run whatever each machine's speed and however many sessions it takes, and
# --patience 0 lets no run of flat epochs end it early (near the peak rate the held-out
# loss can be flat for epochs: the decay is what brings it down; a flat epoch still
# halves the rate, --lr-decay, and the best checkpoint is kept).
# The 2026-12-06 base: 19 epochs x 9.80M training chars of english-classic = 186M chars, dropout
# 0 (chosen on that corpus's own tail, run 11). Batch 64 won at equal time; precision may differ
# between resumes. The peak rate 5e-3, since the first long run at 1e-2 (the best rate for 10
# minutes) stayed flat for two epochs and then spiked. Given on the first call only: a resume
# keeps the run's own.
set -euo pipefail
run_dir=${1:?usage: scripts/train_base.sh RUN_DIR [FLAG…]}
shift
cd "$(dirname "$0")/.."
py=.venv/bin/python
corpus=$(realpath "$("$py" -m charlstm corpus fetch english)")  # absolute: recorded in the checkpoint
# float32 unless the caller passes --mixed-precision in FLAGs, having measured it here: bfloat16
# trained 1.15x the chars/s on a Zen 4 with AVX512_BF16 (run 10) and 0.52x on machine G's Intel
# Xeon with AVX512_BF16 and no AMX (run 21: 8.6K against 16.4K chars/s, 2x300 on this corpus)
common=(--checkpoint-dir "$run_dir" --patience 0 --save-every 1000 --json)
parked=base-run/last.keras
if [ ! -f "$run_dir/last.keras" ] && [ -f "$parked" ]; then
  mkdir -p "$run_dir" && cp "$parked" "$run_dir/last.keras"
fi
if [ -f "$run_dir/last.keras" ]; then
  exec "$py" -m charlstm train "$corpus" --resume "${common[@]}"
else
  exec "$py" -m charlstm train "$corpus" --seed 1 --dropout 0.1 --learning-rate 5e-3 --epochs 5 "${common[@]}" "$@"
fi
