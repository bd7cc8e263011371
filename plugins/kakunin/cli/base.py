"""What every command group shares: exit codes, JSON output, the registry, options and errors.

Commands are built from `WholeHelpGroup`/`WholeHelpCommand`, so a command listing shows
each command's first help paragraph whole instead of click's 45-character cut.
"""

from __future__ import annotations

import importlib
import inspect
import sys
from collections.abc import Callable, Mapping
from datetime import date
from typing import Any, NoReturn

import click

from kakunin import clock
from kakunin.errors import KakuninError
from kakunin.yaml_io import json_text

EXIT_OK, EXIT_NEGATIVE, EXIT_CANNOT_RUN, EXIT_BUSY = 0, 1, 2, 75

JSON_HELP = 'Print the result as JSON on stdout (errors too: {"error": {"code", "message"}}).'


class CliError(KakuninError):
    """A refusal decided by the CLI itself, with its stable code and exit status."""

    def __init__(self, message: str, *, code: str, exit_code: int = EXIT_CANNOT_RUN) -> None:
        super().__init__(message)
        self.code = code
        self.exit_code = exit_code


class WholeHelpCommand(click.Command):
    """A command whose one-line summary in a listing is its first paragraph, never cut mid-sentence."""

    def get_short_help_str(self, limit: int = 45) -> str:
        return first_paragraph(self.short_help or self.help or "")


class WholeHelpGroup(click.Group):
    """A group listing its commands by their whole first paragraph; subcommands inherit the classes."""

    command_class = WholeHelpCommand
    group_class = type

    def get_short_help_str(self, limit: int = 45) -> str:
        return first_paragraph(self.short_help or self.help or "")


class LazyGroup(WholeHelpGroup):
    """A group whose commands are imported only when one is run, so `kakunin X` loads X's modules alone.

    `lazy` maps a command's name to ("module:attribute", its short help); the listing of
    `--help` is written from that table, so asking for help imports no command either.
    `attach` names, for a lazily loaded group, commands of other modules to add to it on load.
    """

    def __init__(
        self,
        *args: Any,
        lazy: Mapping[str, tuple[str, str]],
        attach: Mapping[str, Mapping[str, str]] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.lazy = dict(lazy)
        self.attach = {name: dict(extra) for name, extra in (attach or {}).items()}

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*self.commands, *self.lazy})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.lazy and cmd_name not in self.commands:
            command = _imported(self.lazy[cmd_name][0])
            if isinstance(command, click.Group):
                for sub_name, target in self.attach.get(cmd_name, {}).items():
                    command.add_command(_imported(target), sub_name)
            self.add_command(command, cmd_name)
        return self.commands.get(cmd_name)

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        """As click's, but "Did you mean …?" offers the lazy commands too (click looks only at those loaded)."""
        try:
            return super().resolve_command(ctx, args)
        except click.exceptions.NoSuchCommand as exc:
            raise click.exceptions.NoSuchCommand(
                exc.command_name, possibilities=self.list_commands(ctx), ctx=ctx
            ) from None

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, self._short_help(ctx, name)) for name in self.list_commands(ctx)]
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)

    def _short_help(self, ctx: click.Context, name: str) -> str:
        if name in self.lazy and name not in self.commands:
            return self.lazy[name][1]
        command = self.get_command(ctx, name)
        return command.get_short_help_str() if command is not None else ""


def _imported(target: str) -> click.Command:
    """The command at "module:attribute", importing its module now."""
    module, _, attribute = target.partition(":")
    command = getattr(importlib.import_module(module), attribute)
    if not isinstance(command, click.Command):
        raise TypeError(f"{target} is not a click command")
    return command


def first_paragraph(text: str) -> str:
    """The first paragraph of a docstring, on one line."""
    return " ".join(inspect.cleandoc(text).split("\n\n")[0].split())


def registry() -> Any:
    from kakunin.contracts import Registry, default_expectations_root

    return Registry(default_expectations_root())


def emit_json(payload: Any) -> None:
    click.echo(json_text(payload))


def json_option(command: Callable[..., Any]) -> Callable[..., Any]:
    return click.option("--json", "as_json", is_flag=True, help=JSON_HELP)(command)


def as_of_option(command: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--as-of",
        "as_of",
        type=click.DateTime(formats=["%Y-%m-%d"]),
        default=None,
        help="Judge dates as of this day (YYYY-MM-DD) instead of today in KAKUNIN_TIMEZONE.",
    )(command)


def day(as_of: Any) -> date:
    return as_of.date() if as_of is not None else clock.today()


def known_dataset(dataset: str) -> str:
    """`dataset` if a contract is registered for it; else exit 2 naming the datasets that are."""
    reg = registry()
    if reg.contract(dataset) is None:
        known = ", ".join(reg.dataset_ids()) or "none"
        raise CliError(
            f"unknown dataset {dataset!r}: no contract under {reg.root}; known datasets: {known}",
            code="unknown_dataset",
        )
    return dataset


def dataset_option(command: Callable[..., Any]) -> Callable[..., Any]:
    """`--dataset ID`, refused (exit 2, known datasets listed) unless a contract is registered for it."""
    return click.option(
        "--dataset",
        required=True,
        help="Dataset id (a folder under expectations/ with a contract.yaml).",
        callback=lambda _ctx, _param, value: known_dataset(value) if value is not None else value,
    )(command)


def finish(ok: bool) -> NoReturn:
    """Exit 0 when the verdict is positive, 1 when it is negative."""
    sys.exit(EXIT_OK if ok else EXIT_NEGATIVE)
