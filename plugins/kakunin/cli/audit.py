"""`kakunin audit …`: the operation log's review (APPI Art. 23, 24: reviewing operation logs regularly).

The group only; each command lives in its own module (`audit_review`, `audit_report`,
`audit_log`) and is added to the group in `kakunin.cli`.
"""

from __future__ import annotations

import click

from kakunin.cli.base import WholeHelpGroup


@click.group(cls=WholeHelpGroup)
def audit() -> None:
    """Review the operation log (監査): the daily review and its sign-off, the log itself, the evidence pack."""
