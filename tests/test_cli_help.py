"""Help text is whole: no listing cuts a command's summary mid-sentence, every help page renders."""

from __future__ import annotations

import click
import pytest
from click.testing import CliRunner

from kakunin.cli import cli
from kakunin.cli.base import first_paragraph


def _paths(group: click.Group, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found = [prefix]
    for name, command in sorted(group.commands.items()):
        if isinstance(command, click.Group):
            found += _paths(command, (*prefix, name))
        else:
            found.append((*prefix, name))
    return found


PATHS = _paths(cli)


def _help(path: tuple[str, ...]) -> str:
    result = CliRunner().invoke(cli, [*path, "--help"], prog_name="kakunin", terminal_width=100)
    assert result.exit_code == 0, result.output
    return result.output


def test_every_verb_of_the_architecture_is_there() -> None:
    verbs = {" ".join(p) for p in PATHS}
    expected = {
        "provenance check", "provenance submit", "batches", "intake run", "lineage trace", "lineage verify",
        "lineage checkpoint", "lineage keygen", "retention run", "hold add", "hold remove", "hold list",
        "erasure request", "demo seed", "demo report",
    }  # fmt: skip
    assert expected <= verbs


@pytest.mark.parametrize("path", PATHS, ids=lambda p: " ".join(p) or "kakunin")
def test_no_help_line_is_cut_with_an_ellipsis(path: tuple[str, ...]) -> None:
    text = _help(path)
    cut = [line for line in text.splitlines() if line.rstrip().endswith("...") and "[ARGS]..." not in line]
    assert cut == []


def _command(path: tuple[str, ...]) -> click.Command:
    command: click.Command = cli
    for name in path:
        assert isinstance(command, click.Group)
        command = command.commands[name]
    return command


GROUPS = [p for p in PATHS if isinstance(_command(p), click.Group)]


@pytest.mark.parametrize("path", GROUPS, ids=lambda p: " ".join(p) or "kakunin")
def test_a_listing_shows_each_summary_whole(path: tuple[str, ...]) -> None:
    group = _command(path)
    assert isinstance(group, click.Group)
    listing = " ".join(_help(path).split())
    for name, command in group.commands.items():
        summary = first_paragraph(command.help or "")
        assert summary.endswith((".", ")")), name
        assert f"{name} {summary}" in listing, name


def test_the_top_level_help_is_not_cut() -> None:
    assert "(APPI Art. 35, GDPR Art. 17)." in " ".join(_help(()).split())


def test_every_command_that_reports_takes_json() -> None:
    groups = ("provenance", "intake", "lineage", "retention", "hold", "erasure", "demo", "infra", "subject", "audit")
    silent = {(group,) for group in groups} | {()}
    without = [" ".join(p) for p in PATHS if p not in silent and "--json" not in _help(p)]
    assert without == []
