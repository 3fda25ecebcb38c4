"""One policy for the text a user hands a trained model: a prime, a text to score or to inspect.

`prepare_text` normalises newlines as training did, lower-cases if the model was trained
lower-cased, and then treats characters outside the vocabulary as asked: "error" refuses
them (naming them, and saying so when the vocabulary has them in the other case), "skip"
drops them and reports how many and which. Generation, evaluation, `inspect` and the API
all call it, so the same text is read the same way everywhere.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from charlstm.errors import VocabularyError
from charlstm.text.corpus import Vocabulary, describe_chars, normalize_newlines


@dataclass(frozen=True)
class PreparedText:
    text: str  # ready to encode: every character is in the vocabulary
    dropped: int = 0  # characters removed ("skip"), counting every occurrence
    unknown: str = ""  # the distinct characters removed, sorted


def prepare_text(
    text: str,
    vocab: Vocabulary,
    lowercase: bool,
    on_unknown: str = "error",
    what: str = "text",
    warn: Callable[[str], None] | None = None,
    allow_empty: bool = False,
) -> PreparedText:
    """`text` as the model reads it; see the module docstring.

    `what` names the text in messages ("prime", "text"); `warn` receives the one-line
    note when "skip" dropped something. Unless `allow_empty`, a text that skipping leaves
    empty is refused (evaluation allows it: it reports zero characters scored).
    """
    text = normalize_newlines(text)
    if lowercase:
        text = text.lower()  # the model only ever saw lower case
    missing = vocab.unknown(text)
    if not missing:
        return PreparedText(text)
    if on_unknown != "skip":
        raise VocabularyError(
            f"the {what} has {len(missing)} character(s) not in the model's vocabulary: "
            f"{describe_chars(missing)}{_other_case_hint(missing, vocab, what)}; use --on-unknown skip to drop them"
        )
    bad = set(missing)
    kept = "".join(c for c in text if c not in bad)
    if warn is not None:
        noun = "character(s)" if what == "text" else f"{what} character(s)"
        warn(f"dropped {len(text) - len(kept)} {noun} not in the vocabulary: {describe_chars(missing)}")
    if not kept and not allow_empty:
        raise VocabularyError(f"no character of the {what} is in the model's vocabulary")
    return PreparedText(kept, len(text) - len(kept), missing)


def _other_case_hint(missing: str, vocab: Vocabulary, what: str) -> str:
    """A hint when every missing letter is in the vocabulary in the other case."""
    cased = [c for c in missing if c.swapcase() != c]
    if not cased or not all(c.swapcase() in vocab.chars for c in cased):
        return ""
    return (
        f" (the vocabulary has these letters in the other case: change the {what}'s case, "
        "or train with --lowercase so case never matters)"
    )
