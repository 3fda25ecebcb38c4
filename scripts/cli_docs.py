"""README option tables generated from the click commands, so they never drift from --help.

    python scripts/cli_docs.py           # rewrite README.md's tables in place (make docs)
    python scripts/cli_docs.py --check   # exit 1 if README.md differs (make lint, tests/test_readme.py)

Each table sits between `<!-- cli:NAME -->` and `<!-- /cli:NAME -->` in README.md,
NAME being the command path with spaces as dashes (`train`, `corpus-fetch`).
Everything outside the markers is prose and left alone. A script, not a module of
the package: nothing in charlstm imports charlstm.cli.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import click

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
BLOCK = re.compile(r"(<!-- cli:(?P<name>[\w-]+) -->\n)(?P<body>.*?)(<!-- /cli:(?P=name) -->)", re.S)


def _commands(group: click.Group, path: tuple[str, ...] = ()):
    for name, cmd in group.commands.items():
        if isinstance(cmd, click.Group):
            yield from _commands(cmd, (*path, name))
        else:
            yield "-".join((*path, name)), cmd


def _metavar(p: click.Option) -> str:
    if p.is_flag or isinstance(p.type, click.Choice):
        return ""
    if p.metavar:
        return f" {p.metavar}"
    if isinstance(p.type, (click.types.IntParamType, click.types.FloatParamType)):
        return " N" if isinstance(p.type, click.types.IntParamType) else " X"
    return f" {p.type.name.upper()}"


def _names(p: click.Option) -> str:
    names = sorted(p.opts, key=len)  # -c before --checkpoint
    if p.secondary_opts:
        return f"`{'/'.join(p.opts + p.secondary_opts)}`"
    return ", ".join(f"`{n}{_metavar(p) if n == names[-1] else ''}`" for n in names)


def _default(p: click.Option) -> str:
    if isinstance(p.show_default, str):
        return _md(p.show_default)
    d = p.default if isinstance(p.default, (str, int, float, bool)) else None  # click 8.2+: UNSET sentinel
    if p.is_flag and not p.secondary_opts:
        return "on" if d is True else "off"
    if p.secondary_opts:
        return f"`{(p.opts if d else p.secondary_opts)[0]}`"
    return "" if d is None else f"`{d}`"


def _meaning(p: click.Option) -> str:
    text = _md(" ".join((p.help or "").split()))
    if isinstance(p.type, click.Choice):
        text += f" One of {', '.join(f'`{c}`' for c in p.type.choices)}."
    elif isinstance(p.type, click.types._NumberRangeBase):
        text += f" Range `{p.type._describe_range()}`."
    return text.strip()


def _md(text: str) -> str:
    """Cell text safe in a Markdown table: no column breaks, no `<name>` read as an HTML tag."""
    return text.replace("|", "\\|").replace("<", "&lt;").replace(">", "&gt;")


def table(cmd: click.Command) -> str:
    """The Markdown table of one command's options (help and version options left out)."""
    rows = ["| option | default | meaning |", "|---|---|---|"]
    for p in cmd.params:
        if isinstance(p, click.Option) and not p.hidden and p.name not in ("help", "version"):
            rows.append(f"| {_names(p)} | {_default(p)} | {_meaning(p)} |")
    return "\n".join(rows) + "\n"


def render(text: str) -> str:
    """`text` (the README) with every cli block regenerated; unknown block names are an error."""
    from charlstm.cli import main

    commands = dict(_commands(main))

    def block(m: re.Match) -> str:
        name = m["name"]
        if name not in commands:
            raise SystemExit(f"README.md: <!-- cli:{name} --> names no command (have: {', '.join(commands)})")
        return f"{m.group(1)}{table(commands[name])}{m.group(4)}"

    return BLOCK.sub(block, text)


def main(argv: list[str]) -> int:
    text = README.read_text(encoding="utf-8")
    new = render(text)
    if "--check" in argv:
        if new != text:
            print(
                "README.md option tables differ from the CLI: run `make docs` (python scripts/cli_docs.py)",
                file=sys.stderr,
            )
            return 1
        return 0
    if new != text:
        README.write_text(new, encoding="utf-8")
        print("README.md: option tables regenerated", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
