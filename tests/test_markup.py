"""Markup into plain text (charlstm/catalog/markup.py), each cleaner on a small synthetic member."""

from charlstm.catalog import markup

HTML = """<html><head><title>Page</title><style>p { color: red }</style><script>var x = 1;</script></head>
<body><div class="navheader"><a href="prev.html">Prev</a> <a href="next.html">Next</a></div>
<div id="banner">Download the ebook</div>
<h1>Chapter 4. Authentication</h1>
<p>When a person   requests
access, <a href="x.html">authentication</a> confirms&nbsp;the identity &amp; more.</p>
<ul><li><p>Login name</p></li><li>Password <em>entry</em></li></ul>
<pre class="screen">$ ls -l
  total 0
</pre>
<table><tr><th>file</th> <th>permission</th></tr>
<tr><td>/etc/passwd</td> <td>-rw-r--r--</td></tr></table>
<p>Last<br>line</p></body></html>"""


def test_html_keeps_what_a_reader_sees_and_the_structure_of_lists_code_and_tables():
    text = markup.html_text(HTML)
    assert text.splitlines() == [
        "Chapter 4. Authentication",
        "",
        "When a person requests access, authentication confirms the identity & more.",
        "",
        "- Login name",
        "- Password entry",
        "",
        "$ ls -l",
        "  total 0",
        "",
        "file  permission",
        "/etc/passwd  -rw-r--r--",
        "",
        "Last",
        "line",
    ]


ROFF = r""".\" Copyright notice: a comment
.TH LS 1 2023-01-01 "GNU coreutils"
.SH NAME
ls \- list directory contents
.SH DESCRIPTION
List information about the
.B FILE
(the current directory by default).
Sort entries \fIalphabetically\fP if none of
.BR \-cftuvSUX " nor " \-\-sort
is specified.
.PP
Mandatory arguments \(em long and short.
.TP
.B \-a
do not ignore entries starting with .
.SH EXAMPLES
.EX
$ ls \-l
  total 0
.EE
.TS
tab(\t);
l l.
SIGHUP\t1
SIGINT\t2
.TE
"""


def test_roff_man_page_becomes_headed_paragraphs_with_examples_and_tables_kept():
    text = markup.roff_text(ROFF.replace("\\t", "\t"))
    assert text.splitlines() == [
        "LS(1)",
        "",
        "NAME",
        "",
        "ls - list directory contents",
        "",
        "DESCRIPTION",
        "",
        "List information about the FILE (the current directory by default). Sort entries alphabetically "
        "if none of -cftuvSUX nor --sort is specified.",
        "",
        "Mandatory arguments \u2014 long and short.",
        "",
        "-a",
        "do not ignore entries starting with .",
        "",
        "EXAMPLES",
        "",
        "$ ls -l",
        "  total 0",
        "",
        "SIGHUP  1",
        "SIGINT  2",
    ]


RST = """.. _queries:

==============
Making queries
==============

.. currentmodule:: django.db.models

Once you've created your :doc:`data models </topics/db/models>`, call
:meth:`~django.db.models.Model.save` with ``force_insert`` (see `the docs <https://x.org/>`_)::

    >>> b = Blog(name="Beatles")
    >>> b.save()

.. note::

    Django doesn't hit the database until you call **save**.

.. versionadded:: 4.1

    The ``create()`` shortcut.

.. toctree::
   :maxdepth: 1

   intro
"""


def test_rst_titles_roles_links_and_directives_become_plain_text_with_code_kept():
    text = markup.rst_text(RST)
    assert text.splitlines() == [
        "Making queries",
        "",
        "Once you've created your data models, call",
        "save with `force_insert` (see the docs):",
        "",
        '    >>> b = Blog(name="Beatles")',
        "    >>> b.save()",
        "",
        "Note:",
        "Django doesn't hit the database until you call save.",
        "",
        "New in version 4.1.",
        "The `create()` shortcut.",
    ]


def test_fortunes_split_on_percent_lines_and_latin1_files_are_read():
    data = "Ma\xdfe und Gewichte.\n\t-- Anon\n%\nZweiter Witz:\n\nmit Leerzeile\n%\n".encode("latin-1")
    assert markup.fortunes(data) == ["Ma\xdfe und Gewichte.\n\t-- Anon", "Zweiter Witz:\n\nmit Leerzeile"]
    assert markup.fortunes("caf\xe9\n%\n".encode()) == ["caf\xe9"]


def test_fortunes_show_overstruck_characters_once_and_drop_bells():
    data = b"This is _\x08i_\x08m_\x08p_\x08o_\x08r_\x08t_\x08a_\x08n_\x08t\x07!\n%\n"
    assert markup.fortunes(data) == ["This is important!"]


def test_rst_roles_split_by_a_line_break_and_tildes_in_prose():
    src = "See :ref:`the documentation on\nModelAdmin methods <model-admin-methods>` in ~/.config.\n"
    assert markup.rst_text(src) == "See the documentation on\nModelAdmin methods in ~/.config."


def test_texinfo_html_loses_its_node_navigation_and_anchors():
    page = (
        '<div class="header"><p>Next: <a href="#a">Intro</a> [<a href="#c">Contents</a>]</p></div>'
        "<dl><dt><code>POSIX</code><a class='copiable-anchor' href='#p'> &para;</a></dt><dd><p>A family.</p></dd></dl>"
    )
    assert markup.html_text(page) == "POSIX\n\nA family."
