"""usertext.prepare_text: the one reading of a user's text for a vocabulary."""

import pytest

from charlstm.errors import VocabularyError
from charlstm.text.corpus import Vocabulary
from charlstm.text.usertext import PreparedText, prepare_text

VOCAB = Vocabulary("\n !.abcdehT")


def test_known_text_passes_with_newlines_normalised():
    assert prepare_text("Tea.\r\nbad\rcab", VOCAB, lowercase=False) == PreparedText("Tea.\nbad\ncab")


def test_lowercase_models_read_lower_case():
    assert prepare_text("BAD CAB", VOCAB, lowercase=True).text == "bad cab"
    with pytest.raises(VocabularyError):
        prepare_text("BAD CAB", VOCAB, lowercase=False)


def test_error_names_the_characters_and_hints_at_the_other_case():
    with pytest.raises(VocabularyError) as e:
        prepare_text("the Xab€", VOCAB, lowercase=False, what="prime")
    assert str(e.value) == (
        "the prime has 3 character(s) not in the model's vocabulary: X t €; use --on-unknown skip to drop them"
    )  # t's other case is in the vocabulary but X's is not: no hint
    with pytest.raises(VocabularyError) as e:
        prepare_text("BAD", VOCAB, lowercase=False, what="prime")
    assert str(e.value) == (
        "the prime has 3 character(s) not in the model's vocabulary: A B D (the vocabulary has these letters in "
        "the other case: change the prime's case, or train with --lowercase so case never matters); "
        "use --on-unknown skip to drop them"
    )


def test_skip_drops_every_occurrence_and_reports_them():
    notes = []
    got = prepare_text("a€b€c!?", VOCAB, lowercase=False, on_unknown="skip", warn=notes.append)
    assert got == PreparedText("abc!", dropped=3, unknown="?€")
    assert notes == ["dropped 3 character(s) not in the vocabulary: ? €"]
    prepare_text("a€", VOCAB, lowercase=False, on_unknown="skip", what="prime", warn=notes.append)
    assert notes[-1] == "dropped 1 prime character(s) not in the vocabulary: €"


def test_nothing_left_is_refused_unless_allowed():
    with pytest.raises(VocabularyError, match="no character of the prime is in the model's vocabulary"):
        prepare_text("€€", VOCAB, lowercase=False, on_unknown="skip", what="prime")
    assert prepare_text("€€", VOCAB, lowercase=False, on_unknown="skip", allow_empty=True) == PreparedText("", 2, "€")
