"""The contamination check: exact on planted windows, blind to near-misses, equal to a naive scan."""

import random

from charlstm.catalog import contamination as C


def _words(rng: random.Random, n: int) -> str:
    vocab = ["the", "king", "and", "queen", "said", "to", "a", "ship", "sea", "of", "light", "dark", "night"]
    out = []
    for i in range(n):
        out.append(rng.choice(vocab))
        if i % 9 == 8:
            out.append("\n")
    return " ".join(out)


def _naive(corpus: str, ref: str) -> bool:
    """Reference: is any WINDOW-long substring of normalise(ref) a substring of normalise(corpus)?"""
    text, r = C.normalise(corpus), C.normalise(ref)
    windows = {text[i : i + C.WINDOW] for i in range(len(text) - C.WINDOW + 1)}
    return any(r[i : i + C.WINDOW] in windows for i in range(len(r) - C.WINDOW + 1))


def test_normalise_folds_case_and_every_whitespace_run():
    assert C.normalise("  The\r\nKing\t\tSaid  \n\n") == "the king said"


def test_planted_window_is_found_across_line_endings_and_case():
    rng = random.Random(1)
    ref = "".join(rng.choice("abcdefghij ") for _ in range(5000))
    planted = ref[1234 : 1234 + 260]
    # the corpus copy has CRLF line ends, doubled spaces and upper case
    copy = planted.upper().replace(" ", "  \r\n", 3)
    corpus = "".join(rng.choice("klmnopqrst ") for _ in range(30_000)) + copy + "xyz" * 1000
    found = C.find_matches(corpus, {"ref": ref})
    assert len(found) == 1
    assert found[0].reference == "ref"
    assert found[0].length >= C.WINDOW
    assert C.normalise(planted) in C.normalise(ref)[found[0].reference_pos : found[0].reference_pos + found[0].length]


def test_a_window_of_exactly_200_is_found_at_every_phase_of_the_sampling_stride():
    rng = random.Random(5)
    ref = "".join(rng.choice("abcdefgh") for _ in range(1000))
    for offset in range(C.STRIDE + 1):
        corpus = "Z" * (300 + offset) + ref[500:700] + "Z" * 300
        assert len(C.find_matches(corpus, {"ref": ref})) == 1, offset
        assert C.find_matches(corpus.replace(ref[500:700], ref[500:699]), {"ref": ref}) == [], offset


def test_near_misses_are_not_flagged():
    rng = random.Random(2)
    ref = "".join(rng.choice("abcdefgh") for _ in range(3000))
    # 199 shared characters, then a difference: one short of the window
    short = "Z" * 700 + ref[100:299] + "Z" * 700
    # 300 characters with one changed in the middle: two stretches of < 200
    changed = ref[1000:1300]
    changed = changed[:150] + ("x" if changed[150] != "x" else "y") + changed[151:]
    near = "Z" * 700 + changed + "Z" * 700
    assert C.find_matches(short, {"ref": ref}) == []
    assert C.find_matches(near, {"ref": ref}) == []


def test_agrees_with_a_naive_scan_on_random_texts():
    rng = random.Random(3)
    for trial in range(30):
        ref = _words(rng, 400)
        corpus = _words(rng, 1500)
        if trial % 3 == 0:  # plant a stretch of random length around the window size
            start, length = rng.randrange(0, 1500), rng.randrange(150, 260)
            at = rng.randrange(0, len(corpus))
            corpus = corpus[:at] + " " + C.normalise(ref)[start : start + length] + " " + corpus[at:]
        assert bool(C.find_matches(corpus, {"ref": ref})) == _naive(corpus, ref), trial


def test_several_references_are_reported_by_name():
    rng = random.Random(4)
    a = "".join(rng.choice("abc ") for _ in range(2000))
    b = "".join(rng.choice("def ") for _ in range(2000))
    corpus = "Q" * 300 + b[100:500] + "Q" * 300
    found = C.find_matches(corpus, {"a": a, "b": b})
    assert [m.reference for m in found] == ["b"]
    assert "of b" in found[0].describe()
