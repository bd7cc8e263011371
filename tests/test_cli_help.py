"""Help text is whole: no listing cuts a command's summary mid-sentence, every help page renders."""

from __future__ import annotations

import importlib
import subprocess
import sys

import click
import pytest
from click.testing import CliRunner

from kakunin.cli import ATTACHED, COMMANDS, cli
from kakunin.cli.base import first_paragraph


def _subcommands(group: click.Group) -> dict[str, click.Command]:
    """A group's commands by name, loading lazy ones (as running them would)."""
    ctx = click.Context(group)
    found = {name: group.get_command(ctx, name) for name in group.list_commands(ctx)}
    return {name: command for name, command in found.items() if command is not None}


def _paths(group: click.Group, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found = [prefix]
    for name, command in sorted(_subcommands(group).items()):
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
        command = _subcommands(command)[name]
    return command


GROUPS = [p for p in PATHS if isinstance(_command(p), click.Group)]


@pytest.mark.parametrize("path", GROUPS, ids=lambda p: " ".join(p) or "kakunin")
def test_a_listing_shows_each_summary_whole(path: tuple[str, ...]) -> None:
    group = _command(path)
    assert isinstance(group, click.Group)
    listing = " ".join(_help(path).split())
    for name, command in _subcommands(group).items():
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


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_the_lazy_table_lists_each_command_with_its_own_short_help(name: str) -> None:
    """`kakunin --help` is written from the table without importing commands: it must not drift from them."""
    module, _, attribute = COMMANDS[name][0].partition(":")
    command = getattr(importlib.import_module(module), attribute)
    assert COMMANDS[name][1] == command.get_short_help_str()


def test_every_command_of_the_table_and_of_its_groups_loads() -> None:
    loaded = _subcommands(cli)
    assert sorted(loaded) == sorted(COMMANDS)
    for group, attached in ATTACHED.items():
        command = loaded[group]
        assert isinstance(command, click.Group)
        assert set(attached) <= set(_subcommands(command))


def _cli_modules_loaded_by(argv: list[str]) -> tuple[str, set[str]]:
    """What `kakunin <argv>` prints in a fresh process, and which `kakunin.cli.*` modules it imported."""
    probe = (
        "import sys; from kakunin.cli import main\n"
        f"try:\n    main({argv!r})\nexcept SystemExit:\n    pass\n"
        "print(' '.join(sorted(m for m in sys.modules if m.startswith('kakunin.cli.'))))"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    return done.stdout, set(done.stdout.splitlines()[-1].split())


def test_the_top_level_help_loads_no_command() -> None:
    """Asking `kakunin --help` imports none of the command modules (they are loaded when run)."""
    printed, loaded = _cli_modules_loaded_by(["--help"])
    assert loaded == {"kakunin.cli.base"}
    assert "lineage     Trace a record's story" in printed


def test_a_command_loads_its_own_module_and_not_the_others() -> None:
    printed, loaded = _cli_modules_loaded_by(["lineage", "trace", "--help"])
    assert "Where RECORD_ID came from" in printed
    assert "kakunin.cli.lineage" in loaded
    assert not loaded & {"kakunin.cli.demo", "kakunin.cli.provenance", "kakunin.cli.retention", "kakunin.cli.audit"}


def test_a_mistyped_command_is_answered_with_the_one_meant() -> None:
    """Click suggests among loaded commands only; the lazy group offers every command it lists.

    In a fresh process: this module has loaded every command already.
    """
    argv = [sys.executable, "-m", "kakunin.cli", "lineag", "trace"]
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    assert done.returncode == 2
    assert "No such command 'lineag'. Did you mean 'lineage'?" in done.stderr
