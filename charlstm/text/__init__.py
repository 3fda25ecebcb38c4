"""Text and vocabularies: what every other wing reads characters through.

    corpus.py    corpus files read and decoded (strict UTF-8, newlines), `Vocabulary`, the prime excerpt
    idfile.py    a corpus encoded once into a memory-mapped file of ids, reused while the inputs are unchanged
    items.py     a list, one item a line: laid out after newlines, split, its record for --novel
    usertext.py  the one policy for a user's text against a vocabulary (case, newlines, unknown characters)

May import only the shared core (errors, files).
"""
