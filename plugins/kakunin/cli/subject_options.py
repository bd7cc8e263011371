"""The identifier options every data-subject command shares: `--email`, `--phone`, `--name` with `--birth-date`.

A value of `-` is read from standard input (one line), so an identifier stays out of shell
history and process lists. Only one option may read standard input.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

import click

from kakunin.contracts import IdentifierKind
from kakunin.errors import InputError
from kakunin.subjects.identifiers import Identifier, parse_birth_date


def identifier_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """Add `--email`, `--phone`, `--name`, `--birth-date` (each `-` for standard input)."""
    for name, text in reversed(
        [
            ("--email", "The person's email address ('-': read it from standard input)."),
            ("--phone", "The person's phone number, any form (+81, hyphens, full width; '-': standard input)."),
            ("--name", "The person's name, kanji or kana (with --birth-date; '-': standard input)."),
            ("--birth-date", "The person's birth date (YYYY-MM-DD), with --name."),
        ]
    ):
        command = click.option(name, default=None, help=text)(command)
    return command


def identifiers_from(
    email: str | None, phone: str | None, name: str | None, birth_date: str | None, *, required: bool = True
) -> list[Identifier]:
    """The identifiers given, `-` read from standard input; `InputError` when none is (and one is `required`)."""
    given = {"--email": email, "--phone": phone, "--name": name, "--birth-date": birth_date}
    from_stdin = [option for option, value in given.items() if value == "-"]
    if len(from_stdin) > 1:
        raise InputError(f"only one option can read standard input ('-'); given: {', '.join(from_stdin)}")
    values = {option: sys.stdin.readline().rstrip("\r\n") if value == "-" else value for option, value in given.items()}
    if values["--name"] is not None and values["--birth-date"] is None:
        raise InputError("--name finds a person only with --birth-date YYYY-MM-DD (a name alone names many people)")
    if values["--birth-date"] is not None and values["--name"] is None:
        raise InputError("--birth-date goes with --name")
    found = []
    if values["--email"] is not None:
        found.append(Identifier(IdentifierKind.EMAIL, values["--email"]))
    if values["--phone"] is not None:
        found.append(Identifier(IdentifierKind.PHONE, values["--phone"]))
    if values["--name"] is not None and values["--birth-date"] is not None:
        found.append(Identifier(IdentifierKind.NAME, values["--name"], parse_birth_date(values["--birth-date"])))
    if required and not found:
        raise InputError("say who: --email, --phone, or --name with --birth-date (any of them '-' for standard input)")
    return found
