#!/bin/bash
# Train the bundled base model (issue 29), or continue its run: the same command every time.
#
#     scripts/train_base.sh RUN_DIR [FLAG…]   # e.g. checkpoints/base-run (git-ignored)
#     python scripts/release_base.py RUN_DIR
#
# FLAGs are `charlstm train` options for the first call, after (so overriding) the recipe's
# own below; a resume ignores them and keeps the run's own (its --epochs too, so the
# schedule never moves).
#
# Issue 42, what remains: `english` is now the 37.9M-character corpus of 21 sources (the
# recipe below was chosen for the 10.9M `english-classic`, on its own held-out tail, and
# the base it trained lost to its predecessor on every unseen kind of text: RESULTS run 18).
# Before the next long run, choose dropout on the panel of unseen text with
#     python scripts/choose_recipe.py checkpoints/recipe --budget 1800 [--weight-decay 0,0.1]
# (resumable; ~2 hours for four dropouts, twice that with two weight decays), then pass the winner and an --epochs that fits
# the compute (19 epochs of this corpus's 34.1M training chars would be 650M chars, 3.5x
# the released base's 186M: ~12 hours on machine F; 6 epochs, ~205M, match its compute)
# as FLAGs on the first call. 2x300 stays unless a measured size wins on the panel within
# the 10 MB file and the speed bound.
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
# 19 epochs x 9.80M training chars = 186M chars, 10.4x the previous base's 17.9M at the
# same 2x300 size. Batch 64 won at equal time; precision may differ between resumes. The recipe (run 11):
# no dropout, since the model underfits this corpus (train and held-out losses are equal)
# and dropout 0 scored 1.407 against 1.414 in 10 minutes at 7% more chars/s; a peak rate
# of 5e-3, since the first long run at 1e-2 (the best rate for 10 minutes) stayed flat for
# two epochs and then spiked. Given on the first call only: a resume keeps the run's own.
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
  exec "$py" -m charlstm train "$corpus" --seed 1 --dropout 0 --learning-rate 5e-3 --epochs 19 "${common[@]}" "$@"
fi
