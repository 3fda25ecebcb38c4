"""Markup into the plain text a person would write: HTML, roff (man pages), reStructuredText, fortunes.

The pretraining corpus takes documentation as its packages ship it (HTML, man pages, Sphinx
sources); a model trained on the markup would learn tags. Each function here keeps what a
reader sees: paragraphs one per line with a blank line between, headings on lines of their
own, list items as "- item" lines, preformatted text and code verbatim (indentation and line
breaks kept), table rows one per line with their cells two spaces apart. Links keep their
text. Nothing is wrapped: a paragraph is one line, as text typed into a web form or a chat.
"""

from __future__ import annotations

import re
import textwrap
from html.parser import HTMLParser

# --- HTML -----------------------------------------------------------------------------

_BLOCK = {
    "address", "article", "aside", "blockquote", "dd", "div", "dl", "dt", "figcaption", "figure",
    "footer", "form", "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr", "li", "main", "ol", "p",
    "pre", "section", "table", "tbody", "thead", "tfoot", "tr", "ul", "caption",
}  # fmt: skip
_SKIP = {"script", "style", "head", "nav", "noscript", "template", "svg", "button"}
# DocBook and Sphinx navigation: page headers and footers, sidebars, tables of contents, "¶" anchors
_SKIP_CLASSES = {
    "navheader", "navfooter", "toc", "list-of-tables", "list-of-figures", "list-of-examples",
    "sphinxsidebar", "related", "footer", "headerlink", "breadcrumbs", "rst-footer-buttons", "docnav",
    "copiable-anchor", "header",  # texinfo's "¶" anchors and node navigation (Next:, Previous:, Up:)
}  # fmt: skip
_SKIP_IDS = {"banner", "navigation", "sidebar", "footer"}
_VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}
_SPACE = re.compile(r"\s+")


class _HTMLText(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []  # finished text
        self.breaks = 0  # line breaks owed before the next text: 1 a new line, 2 a blank line
        self.skip: list[str] = []  # open elements whose content is dropped
        self.pre = 0  # depth inside <pre>
        self.cells = 0  # cells written in the current table row
        self.rows = 0  # depth inside <tr>: whitespace between cells is not text
        self.lis = 0  # depth inside <li>: its paragraphs a line apart, not a blank line
        self.item = False  # a "- " was written and nothing after it: the item's first block joins it

    def _owe(self, n: int) -> None:
        if self.out and not self.item:
            self.breaks = max(self.breaks, n)

    def _write(self, text: str) -> None:
        if self.breaks:
            self.out.append("\n" * self.breaks)
            self.breaks = 0
        self.out.append(text)
        self.item = text == "- "

    def _at_line_start(self) -> bool:
        return bool(self.breaks) or not self.out or self.out[-1].endswith("\n")

    def handle_starttag(self, tag: str, attrs: list) -> None:
        if self.skip:
            if tag not in _VOID:
                self.skip.append(tag)
            return
        attributes = dict(attrs)
        classes = set((attributes.get("class") or "").split())
        if tag in _SKIP or classes & _SKIP_CLASSES or attributes.get("id") in _SKIP_IDS:
            if tag not in _VOID:
                self.skip.append(tag)
            return
        if tag == "br":
            self._write("\n")
        elif tag == "pre":
            self._owe(2)
            self.pre += 1
        elif tag == "li":
            self._owe(1)
            self._write("- ")
            self.lis += 1
        elif tag in ("tr", "dt"):
            self._owe(1)
            self.cells = 0
            self.rows += tag == "tr"
        elif tag in ("td", "th"):
            if self.cells and not self._at_line_start():
                self._write("  ")
            self.cells += 1
        elif tag in _BLOCK:
            self._owe(1 if tag == "dd" or self.lis else 2)

    def handle_endtag(self, tag: str) -> None:
        if self.skip:
            if tag == self.skip[-1]:
                self.skip.pop()
            return
        if tag == "pre":
            self.pre = max(0, self.pre - 1)
            self._owe(2)
        elif tag in ("li", "dt", "dd", "tr"):
            self.rows -= tag == "tr" and self.rows > 0
            self.lis -= tag == "li" and self.lis > 0
            self._owe(1)
        elif tag in _BLOCK:
            self._owe(1 if self.lis and tag not in ("ul", "ol") else 2)

    def handle_data(self, data: str) -> None:
        if self.skip or not data:
            return
        if self.pre:
            self._write(data)
            return
        text = _SPACE.sub(" ", data)
        if text == " " and (self.rows or self.item):
            return
        if self._at_line_start() or self.out[-1].endswith(" "):
            text = text.lstrip()
        if text:
            self._write(text)


def html_text(html: str) -> str:
    """The text of an HTML page as a reader sees it (no scripts, styles or navigation)."""
    parser = _HTMLText()
    parser.feed(html)
    parser.close()
    lines = [line.rstrip() for line in "".join(parser.out).split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip("\n")


# --- roff (man pages) ----------------------------------------------------------------------

_ROFF_CHARS = {
    "em": "\u2014", "en": "\u2013", "hy": "-", "aq": "'", "dq": '"', "lq": "\u201c", "rq": "\u201d",
    "oq": "\u2018", "cq": "\u2019", "bu": "\u2022", "co": "\u00a9", "rg": "\u00ae", "tm": "\u2122",
    "rs": "\\", "ti": "~", "ha": "^", "mu": "\u00d7", "di": "\u00f7", "+-": "\u00b1", ">=": "\u2265",
    "<=": "\u2264", "!=": "\u2260", "->": "\u2192", "<-": "\u2190", "de": "\u00b0", "sq": "\u25a1",
    "lh": "\u261c", "rh": "\u261e", "at": "@", "sh": "#", "Do": "$", "ga": "`", "aa": "\u00b4",
    "ul": "_", "ba": "|", "br": "|", "lB": "[", "rB": "]", "lC": "{", "rC": "}", "fo": "\u2039",
    "fc": "\u203a", "Fo": "\u00ab", "Fc": "\u00bb", "pc": "\u00b7", "ua": "\u2191", "da": "\u2193",
}  # fmt: skip
_ROFF_STRINGS = {"lq": "\u201c", "rq": "\u201d", "R": "\u00ae", "Tm": "\u2122", "dq": '"'}
_ESCAPE = re.compile(
    r"\\(?:"
    r"\((?P<c2>..)|\[(?P<cb>[^\]]*)\]"  # \(xx, \[name]: special characters
    r"|\*(?:\((?P<s2>..)|\[(?P<sb>[^\]]*)\]|(?P<s1>.))"  # \*x, \*(xx, \*[name]: strings
    r"|f(?:\(..|\[[^\]]*\]|.)"  # \fB, \f(CW, \f[B]: fonts
    r"|s[-+]?(?:\d|\(\d\d|\[\d*\])"  # \s-1: sizes
    r"|[kmnFgY](?:\(..|\[[^\]]*\]|.)"  # registers, colours: dropped
    r"|[hvwlLxoDbHSXNZRABC]'[^']*'"  # motions and drawing: dropped
    r"|(?P<one>.)"  # one-character escapes
    r")"
)
_ONE = {"-": "-", "e": "\\", "\\": "\\", " ": " ", "~": " ", "0": " ", "'": "\u00b4", "`": "`", ".": "."}


def _roff_escape(m: re.Match) -> str:
    if m.group("c2") is not None or m.group("cb") is not None:
        name = m.group("c2") or m.group("cb")
        if name.startswith("u") and len(name) == 5:  # \[u00E9]
            return chr(int(name[1:], 16))
        return _ROFF_CHARS.get(name, "")
    if m.group("s2") is not None or m.group("sb") is not None or m.group("s1") is not None:
        return _ROFF_STRINGS.get(m.group("s2") or m.group("sb") or m.group("s1"), "")
    one = m.group("one")
    return _ONE.get(one, "") if one is not None else ""


def roff_inline(text: str) -> str:
    """One line of roff text with its escapes resolved (fonts, sizes and motions dropped)."""
    text = re.sub(r'\\".*$', "", text)  # comment to the end of the line
    return _ESCAPE.sub(_roff_escape, text)


def _roff_args(rest: str) -> list[str]:
    """A macro's arguments: space-separated, "double quoted" ones may hold spaces."""
    return [a[1:-1].replace('""', '"') if a.startswith('"') else a for a in re.findall(r'"(?:[^"]|"")*"?|\S+', rest)]


_FONT_MACROS = {"B", "I", "SM", "SB"}
_ALTERNATING = {"BR", "RB", "BI", "IB", "IR", "RI"}
_PARAGRAPH = {"PP", "P", "LP", "sp", "HP", "br", "IP", "TP", "TQ", "SY", "YS", "OP"}
_IGNORED = {
    "RS", "RE", "in", "ft", "ad", "na", "hy", "nh", "ne", "ce", "ta", "ds", "nr", "de", "ie", "if", "el",
    "ll", "ps", "vs", "so", "UE", "ME", "PD", "DT", "ti", "ig", "cc", "ec", "eo", "mso", "lf", "rm", "tr",
    "fam", "ss", "pc", "ns", "rs", "bp", "pl", "po", "ev", "it", "ch", "wh", "em", "rr", "als", "hw", "hc",
}  # fmt: skip


def roff_text(src: str) -> str:
    """A man page (man macros, tbl tables) as plain text: the heading, sections, paragraphs, examples."""
    out: list[str] = []  # finished lines
    para: list[str] = []  # the filled paragraph being gathered
    fill, table, table_head, tag = True, False, False, False  # tag: the next text is a .TP tag line

    def add(text: str) -> None:
        nonlocal tag
        if not fill:
            out.append(text.rstrip())
            return
        para.append(text.strip())
        if tag:  # a .TP item's tag on a line of its own, its description below
            flush()
            tag = False

    def flush() -> None:
        if para:
            out.append(" ".join(para))
            para.clear()

    def blank() -> None:
        flush()
        if out and out[-1] != "":
            out.append("")

    for raw in src.splitlines():
        if raw.startswith(("'\\\"", '.\\"', "'''")) or raw in (".", "'"):
            continue
        if table:
            if raw.startswith(".TE"):
                table = False
                blank()
            elif table_head:
                table_head = not raw.rstrip().endswith(".")  # options and format lines end with "."
            elif raw.strip() not in ("_", "=") and not raw.startswith("."):
                cells = [roff_inline(c.replace("T{", "").replace("T}", "")).strip() for c in raw.split("\t")]
                out.append("  ".join(c for c in cells if c))
            continue
        if raw[:1] in (".", "'"):
            macro, _, rest = raw[1:].strip().partition(" ")
            args = [roff_inline(a) for a in _roff_args(rest)]
            if macro == "TH":
                blank()
                out.append(f"{args[0]}({args[1]})" if len(args) > 1 else " ".join(args))
                blank()
            elif macro in ("SH", "SS"):
                blank()
                out.append(" ".join(args))
                out.append("")
            elif macro in ("nf", "EX"):
                flush()
                fill = False
            elif macro in ("fi", "EE"):
                fill = True
                blank()
            elif macro == "TS":
                blank()
                table, table_head = True, True
            elif macro in _FONT_MACROS:
                if args:
                    add(" ".join(args))
            elif macro in _ALTERNATING:
                add("".join(args))
            elif macro in ("UR", "MT"):
                continue
            elif macro in _PARAGRAPH:
                if macro == "br":
                    flush()
                else:
                    blank()
                tag = macro in ("TP", "TQ")
                if macro == "IP" and args and args[0]:
                    para.append(args[0])
                elif macro in ("SY", "OP") and args:
                    para.append(" ".join(args))
            continue  # _IGNORED and any unknown request: no text
        text = roff_inline(raw)
        if fill and not text.strip():
            blank()
        else:
            add(text)
    flush()
    return re.sub(r"\n{3,}", "\n\n", "\n".join(out)).strip("\n")


# --- reStructuredText (Sphinx sources) -----------------------------------------------------

_RST_DROP = {
    "toctree", "index", "image", "figure", "contents", "highlight", "currentmodule", "module", "raw",
    "include", "only", "autosummary", "testsetup", "testcleanup", "role", "default-role", "tabularcolumns",
    "glossary", "django-admin-option", "templatetag", "templatefilter", "fieldlookup", "setting", "meta",
}  # fmt: skip
_RST_KEEP_CODE = {"code-block", "code", "sourcecode", "literalinclude", "doctest", "console", "parsed-literal"}
_RST_LABELS = {"note": "Note:", "warning": "Warning:", "seealso": "See also:", "admonition": "", "tip": "Tip:",
               "important": "Important:", "attention": "Attention:", "caution": "Caution:", "hint": "Hint:",
               "deprecated": "Deprecated since version {}.", "versionadded": "New in version {}.",
               "versionchanged": "Changed in version {}.", "topic": "", "rubric": "", "sidebar": ""}  # fmt: skip
_DIRECTIVE = re.compile(r"^(\s*)\.\. ([\w:-]+)::\s*(.*)$")
_UNDERLINE = re.compile(r"^([=\-~^\"'`#*+:.<>_])\1{2,}\s*$")
_ROLE = re.compile(r":[\w:.+-]+:`([^`]+)`")
_LINK = re.compile(r"`([^`<]+?)\s*<[^`>]+>`__?")
_REF = re.compile(r"`([^`]+)`__?")
_LITERAL = re.compile(r"``(.+?)``")
_STRONG = re.compile(r"\*\*(.+?)\*\*")
_SUBST = re.compile(r"\|(\w[\w -]*)\|_?")


def _role_text(m: re.Match) -> str:
    text = m.group(1)
    label = re.match(r"(.*?)\s*<[^<>]+>$", text, re.DOTALL)
    if label and label.group(1):
        return label.group(1)
    text = text.lstrip("!")
    return text.rsplit(".", 1)[-1] if text.startswith("~") else text


def rst_inline(text: str) -> str:
    text = _ROLE.sub(_role_text, text)
    text = _LINK.sub(r"\1", text)
    text = _LITERAL.sub(r"`\1`", text)
    text = _REF.sub(r"\1", text)
    text = _STRONG.sub(r"\1", text)
    text = _SUBST.sub(r"\1", text)
    text = re.sub(r"\[(\d+|#\w*|\*)\]_", r"[\1]", text)
    return text.replace("\\ ", "").replace("\\*", "*")


def _block_end(lines: list[str], i: int, indent: int) -> int:
    """Index of the first line after `lines[i]` that is non-blank and indented <= `indent`."""
    j = i + 1
    while j < len(lines) and (not lines[j].strip() or len(lines[j]) - len(lines[j].lstrip()) > indent):
        j += 1
    return j


def rst_text(src: str) -> str:
    """Sphinx reStructuredText as plain text: titles without their underlines, directives as words,
    roles and links as their text, code blocks kept with their indentation."""
    lines = src.expandtabs(4).splitlines()
    out: list[str] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        stripped = line.strip()
        indent = len(line) - len(line.lstrip())
        if _UNDERLINE.match(line) and (not stripped or len(stripped) >= 3):
            i += 1  # a title's over- or underline (or a transition)
            continue
        m = _DIRECTIVE.match(line)
        if m:
            name, arg = m.group(2), rst_inline(m.group(3)).strip()
            end = _block_end(lines, i, indent)
            body = [x for x in lines[i + 1 : end] if not re.match(r"^\s+:[\w -]+:( |$)", x)]  # no options
            if name in _RST_DROP:
                i = end
                continue
            if name in _RST_KEEP_CODE:
                out.extend(body)
            elif name in _RST_LABELS:
                label = (
                    _RST_LABELS[name].format(arg)
                    if "{}" in _RST_LABELS[name]
                    else " ".join(x for x in (_RST_LABELS[name], arg) if x)
                )
                out.extend(["", label] if label else [""])
                out.extend(rst_text(textwrap.dedent("\n".join(body))).splitlines())
            elif name.endswith(("class", "function", "method", "attribute", "exception", "data", "decorator")):
                out.extend(["", arg])  # an API signature, its description below
                out.extend(rst_text(textwrap.dedent("\n".join(body))).splitlines())
            else:
                out.extend(["", arg] if arg else [""])
                out.extend(rst_text(textwrap.dedent("\n".join(body))).splitlines())
            out.append("")
            i = end
            continue
        if stripped.startswith(".. "):  # comments, targets (.. _label:), footnote bodies
            i = _block_end(lines, i, indent)
            continue
        if stripped == "::":
            i += 1
            continue
        text = rst_inline(line.rstrip())
        if text.endswith("::"):
            text = text[:-1]  # "Example::" introduces a code block: "Example:"
        out.append(text)
        i += 1
    text = "\n".join(x.rstrip() for x in out)
    text = _LINK.sub(r"\1", _ROLE.sub(_role_text, text))  # roles and links a line break splits
    return re.sub(r"\n{3,}", "\n\n", text).strip("\n")


# --- fortune files -------------------------------------------------------------------------


_OVERSTRIKE = re.compile(r"[^\n]\x08")  # "_\bx": a terminal's underline or bold, printed as the last char
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")  # bells, stray backspaces: never typed text


def fortunes(data: bytes) -> list[str]:
    """The entries of a fortune file (`%` lines between them), each with its line breaks; overstruck
    characters as the one that shows, other control characters (bells) removed."""
    text = data.decode("utf-8", errors="strict") if _is_utf8(data) else data.decode("latin-1")
    text = _CONTROL.sub("", _OVERSTRIKE.sub("", text.replace("\r\n", "\n")))
    entries = re.split(r"(?m)^%\s*$", text)
    return [e.strip("\n") for e in entries if e.strip()]


def _is_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True
