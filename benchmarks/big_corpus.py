"""A corpus larger than memory: encode time and peak RSS of encoding and of training.

    python benchmarks/big_corpus.py [--mb 2048] [--workdir DIR] [--in-memory] [--skip-train]

Builds an N MB corpus by concatenating shakespeare.txt into a temp file outside the
repository (DIR, default the system temp dir; it needs about 2×N MB: corpus + ids),
then runs each measurement in its own subprocess and reports wall time and that
subprocess's peak RSS (resource.getrusage(RUSAGE_CHILDREN).ru_maxrss, taken by a
one-shot wrapper process so one measurement's peak never leaks into the next):

  encode      charlstm.text.idfile.encode_corpus, both passes, writing the id file
  reuse       the same call again: the cache check (header, stat, CRC32 of the ids)
  in-memory   (--in-memory) read_corpus + Vocabulary.from_text + encode, for contrast
  train       charlstm train BIG --max-time 20 --quiet --checkpoint-dir TMP

`train` measures whatever path `charlstm train` takes: the streamed id file once the
training code uses charlstm.text.idfile, the in-memory one before.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SOURCES = [ROOT.parent / "shared" / "corpora" / "shakespeare.txt", Path("/work/shared/corpora/shakespeare.txt")]

ENCODE = """
import sys, time
from charlstm.text.idfile import encode_corpus
t = time.perf_counter()
c = encode_corpus([sys.argv[1]], sys.argv[2], seed=1)
print(f"{time.perf_counter() - t:.2f} s, {c.chars:,} chars, {len(c.vocab)} symbols, reused={c.reused}", flush=True)
"""

IN_MEMORY = """
import sys, time
from charlstm.text.corpus import Vocabulary, read_corpus
t = time.perf_counter()
text = read_corpus([sys.argv[1]])
ids = Vocabulary.from_text(text).encode(text)
print(f"{time.perf_counter() - t:.2f} s, {ids.size:,} chars", flush=True)
"""


def measured(cmd: list[str], timeout: float | None = None) -> dict:
    """Run `cmd` under a wrapper process; its wall time, peak RSS (MB), exit code and output."""
    wrapper = (
        "import json, resource, subprocess, sys, time\n"
        "t = time.perf_counter()\n"
        "p = subprocess.run(sys.argv[1:], capture_output=True, text=True)\n"
        "print(json.dumps({'wall_s': time.perf_counter() - t, 'rc': p.returncode,\n"
        "  'peak_rss_mb': resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,\n"
        "  'out': (p.stdout + p.stderr)[-2000:]}))\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    p = subprocess.run(
        [sys.executable, "-c", wrapper, *cmd],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=timeout,
        check=True,
    )
    return json.loads(p.stdout)


def build_corpus(path: Path, mb: int, source: Path) -> None:
    """N MB of repeated shakespeare.txt (the last copy cut at a line end)."""
    block = source.read_bytes()
    target = mb << 20
    with open(path, "wb") as out:
        written = 0
        while written + len(block) <= target:
            out.write(block)
            written += len(block)
        rest = block[: target - written]
        out.write(rest[: rest.rfind(b"\n") + 1])


def report(name: str, r: dict) -> None:
    line = r["out"].strip().splitlines()[-1] if r["out"].strip() else ""
    print(
        f"{name:10s} wall {r['wall_s']:7.1f} s  peak RSS {r['peak_rss_mb']:7.0f} MB  rc {r['rc']}  {line}", flush=True
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mb", type=int, default=2048, help="corpus size in MB (default 2048)")
    ap.add_argument("--workdir", type=Path, default=None, help="where the corpus and run go (default: temp dir)")
    ap.add_argument("--in-memory", action="store_true", help="also measure the in-memory path (needs ~6×N MB)")
    ap.add_argument("--skip-train", action="store_true", help="measure encoding only")
    ap.add_argument("--train-seconds", type=int, default=20, help="--max-time of the training run")
    args = ap.parse_args()
    source = next((s for s in SOURCES if s.is_file()), None)
    if source is None:
        sys.exit("shakespeare.txt not found (run: charlstm corpus fetch shakespeare)")
    work = Path(tempfile.mkdtemp(prefix="charlstm-big-", dir=args.workdir))
    try:
        big = work / f"big{args.mb}mb.txt"
        t = time.perf_counter()
        build_corpus(big, args.mb, source)
        print(
            f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores; corpus {big.stat().st_size:,} "
            f"bytes built in {time.perf_counter() - t:.1f} s",
            flush=True,
        )
        ids = work / "corpus.ids"
        report("encode", measured([sys.executable, "-c", ENCODE, str(big), str(ids)]))
        report("reuse", measured([sys.executable, "-c", ENCODE, str(big), str(ids)]))
        print(f"{'':10s} id file {ids.stat().st_size:,} bytes", flush=True)
        if args.in_memory:
            report("in-memory", measured([sys.executable, "-c", IN_MEMORY, str(big)]))
        if not args.skip_train:
            run = work / "run"
            report(
                "train",
                measured(
                    [
                        sys.executable,
                        "-m",
                        "charlstm",
                        "train",
                        str(big),
                        "--max-time",
                        str(args.train_seconds),
                        "--quiet",
                        "--checkpoint-dir",
                        str(run),
                    ]
                ),
            )
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
