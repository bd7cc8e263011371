"""The docs tell the truth about the repository: links, make targets, command lines, reason codes.

README.md and docs/*.md are what staff, engineers and auditors act on. Each check fails
when a doc names something the repository no longer has: a file, a `make` target, a
`kakunin` verb or option, or a reason code the staff guide lists differently from
`kakunin.codes.ReasonCode`.
"""

from __future__ import annotations

import contextlib
import functools
import io
import re
import sys
from pathlib import Path

import pytest

from kakunin.codes import ReasonCode
from tests.conftest import REPO

GUIDES = sorted((REPO / "docs").glob("*.md"))
DOCS = [REPO / "README.md", *GUIDES]
ALL_DOCS = [*DOCS, REPO / "infra" / "README.md", REPO / "lineage" / "README.md"]
STAFF_GUIDE = REPO / "docs" / "provenance-guide.md"

_FENCE = re.compile(r"^```[^\n]*\n(.*?)^```", re.MULTILINE | re.DOTALL)
_LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
_INLINE = re.compile(r"`([^`]+)`")


def _name(path: Path) -> str:
    return str(path.relative_to(REPO))


def _prose(text: str) -> str:
    """The text without its fenced code blocks."""
    return _FENCE.sub("", text)


def _code(text: str) -> list[str]:
    """Every fenced block and every inline code span: where commands are shown."""
    return [*_FENCE.findall(text), *_INLINE.findall(_prose(text))]


def _slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces as hyphens."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def _anchors(path: Path) -> set[str]:
    lines = _prose(path.read_text(encoding="utf-8")).splitlines()
    return {_slug(line.lstrip("#")) for line in lines if line.startswith("#")}


def _links(path: Path) -> list[str]:
    targets = _LINK.findall(_prose(path.read_text(encoding="utf-8")))
    return [t for t in targets if not re.match(r"^[a-z]+:", t)]  # http:, https:, mailto:


@pytest.mark.parametrize("doc", ALL_DOCS, ids=_name)
def test_every_relative_link_points_at_a_file_and_heading_that_exist(doc: Path) -> None:
    broken = []
    for target in _links(doc):
        file_part, _, anchor = target.partition("#")
        linked = (doc.parent / file_part).resolve() if file_part else doc
        if not linked.exists():
            broken.append(f"{target}: no such file")
        elif anchor and linked.suffix == ".md" and anchor not in _anchors(linked):
            broken.append(f"{target}: no heading #{anchor} in {_name(linked)}")
    assert broken == []


@pytest.mark.parametrize("doc", ALL_DOCS, ids=_name)
def test_every_markdown_file_named_in_code_is_in_the_repository(doc: Path) -> None:
    """A doc must not send its reader to a spec that is not in the repository."""
    named = {
        m.group(1)
        for span in _code(doc.read_text(encoding="utf-8"))
        for m in re.finditer(r"(?<![\w<>])([\w./-]+\.md)\b", span)
    }
    missing = sorted(n for n in named if not (REPO / n).exists() and not (doc.parent / n).exists())
    assert missing == []


def _make_targets() -> set[str]:
    text = (REPO / "Makefile").read_text(encoding="utf-8")
    return {m.group(1) for m in re.finditer(r"^([A-Za-z][\w.-]*)\s*:(?!=)", text, re.MULTILINE)}


def test_every_make_command_in_the_readme_is_a_makefile_target() -> None:
    named = {
        m.group(1)
        for span in _code((REPO / "README.md").read_text(encoding="utf-8"))
        for m in re.finditer(r"(?:^|[\s(])make\s+([a-z][\w-]*)", span, re.MULTILINE)
    }
    assert named, "the README shows no make command at all"
    assert sorted(named - _make_targets()) == []


@functools.cache
def _help(path: tuple[str, ...]) -> str | None:
    """What `kakunin <path> --help` prints, or None when it does not exit 0."""
    from kakunin.cli import main

    out, argv = io.StringIO(), sys.argv
    sys.argv = ["kakunin", *path, "--help"]
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
            main()
    except SystemExit as exc:
        if exc.code not in (0, None):
            return None
    finally:
        sys.argv = argv
    return out.getvalue()


def _subcommands(help_text: str) -> set[str]:
    commands = help_text.partition("\nCommands:\n")[2]
    return {m.group(1) for m in re.finditer(r"^\s{2}([a-z][\w-]*)\b", commands, re.MULTILINE)}


def _command_lines() -> list[tuple[str, str]]:
    """(doc, text after `kakunin`) for every `kakunin …` command shown in code in the docs."""
    found = []
    for doc in ALL_DOCS:
        for span in _code(doc.read_text(encoding="utf-8")):
            for m in re.finditer(r"(?:^|[\s/(])kakunin(?![\w.-])((?:[ \t]+[^\s#]+|[ \t]*\n[ \t]+\[?--[^\s#]+)*)", span):
                found.append((_name(doc), " ".join(m.group(1).split())))
    return sorted(set(found))


COMMAND_LINES = _command_lines()


def test_the_docs_show_commands() -> None:
    assert len(COMMAND_LINES) > 20


@pytest.mark.parametrize(("doc", "line"), COMMAND_LINES, ids=[f"{d}: kakunin {c}" for d, c in COMMAND_LINES])
def test_every_kakunin_command_shown_parses_with_its_options(doc: str, line: str) -> None:
    """The verb path's `--help` exits 0, and every `--option` shown is in that help."""
    path: list[str] = []
    for word in line.split():
        help_text = _help(tuple(path))
        assert help_text is not None, f"kakunin {' '.join(path)} --help fails"
        commands = _subcommands(help_text)
        if word not in commands:
            assert not commands or word.startswith(("-", "[")), f"kakunin {' '.join(path)} has no command {word!r}"
            break
        path.append(word)
    help_text = _help(tuple(path))
    assert help_text is not None, f"kakunin {' '.join(path)} --help fails"
    options = set(re.findall(r"(?<![\w-])(--[a-z][a-z-]*)", line)) - {"--help"}
    assert sorted(o for o in options if not re.search(rf"(?<![\w-]){o}\b", help_text)) == [], (
        f"kakunin {' '.join(path)} has no such option"
    )


def _reason_code_rows() -> list[list[str]]:
    """The cells of the staff guide's reason-code table (section "Reason codes")."""
    text = STAFF_GUIDE.read_text(encoding="utf-8")
    section = re.split(r"^## .*Reason codes.*$", text, flags=re.MULTILINE)[1].split("\n## ")[0]
    rows = [line for line in section.splitlines() if line.startswith("| `")]
    return [[cell.strip() for cell in row.strip("|").split("|")] for row in rows]


def test_the_staff_guide_lists_exactly_the_reason_codes_of_the_enum() -> None:
    listed = [row[0].strip("`") for row in _reason_code_rows()]
    assert len(listed) == len(set(listed)), "a code is listed twice"
    assert sorted(listed) == sorted(code.value for code in ReasonCode)


def test_the_staff_guide_gives_each_code_its_severity_and_article() -> None:
    wrong = []
    for code_cell, severity, article, *_ in _reason_code_rows():
        code = ReasonCode(code_cell.strip("`"))
        if severity != " / ".join(s.value for s in code.severities) or article != (code.article or "—"):
            wrong.append(f"{code.value}: guide says {severity}, {article}; code says {code.severity}, {code.article}")
    assert wrong == []
