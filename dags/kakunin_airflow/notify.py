"""Who hears about an intake run's refused batches: the notifier chosen by configuration.

`KAKUNIN_NOTIFY_KIND` (or the Airflow Variable `kakunin_notify_kind`): `log` (the default) writes
the report to the task log; `smtp` mails it through the SMTP connection `KAKUNIN_NOTIFY_CONN_ID`
(Variable `kakunin_notify_conn_id`, default `smtp_default`) to `KAKUNIN_NOTIFY_TO`; `slack` posts it
through the Slack connection (default `slack_api_default`) to `KAKUNIN_NOTIFY_CHANNEL`, and needs
apache-airflow-providers-slack installed. The notifiers are Airflow's own (BaseNotifier).
"""

from __future__ import annotations

import logging
import os
from typing import Any

from airflow.sdk import BaseNotifier, Variable
from airflow.sdk.exceptions import AirflowFailException

log = logging.getLogger(__name__)

KINDS = ("log", "smtp", "slack")


class LogNotifier(BaseNotifier):
    """The default: the report in the task log, one line per rejected batch."""

    template_fields = ()  # the report is plain text, never a template

    def __init__(self, message: str) -> None:
        super().__init__()
        self.message = message

    def notify(self, context: Any) -> None:
        for line in filter(None, self.message.splitlines()):
            log.info("kakunin notify (log): %s", line)


def setting(name: str, default: str | None = None) -> str | None:
    """`KAKUNIN_<NAME>` from the environment, else the Airflow Variable `kakunin_<name>`, else `default`."""
    return os.environ.get(f"KAKUNIN_{name.upper()}") or Variable.get(f"kakunin_{name}", default=default)


def make_notifier(subject: str, message: str) -> BaseNotifier:
    """The configured notifier for one report; a clear, non-retried error when the setting is wrong."""
    kind = (setting("notify_kind", "log") or "log").lower()
    if kind == "log":
        return LogNotifier(message)
    conn_id = setting("notify_conn_id")
    if kind == "smtp":
        from airflow.providers.smtp.notifications.smtp import SmtpNotifier

        to = setting("notify_to")
        if not to:
            raise AirflowFailException("KAKUNIN_NOTIFY_KIND=smtp needs KAKUNIN_NOTIFY_TO (the address to mail)")
        body = "<pre>" + message.replace("&", "&amp;").replace("<", "&lt;") + "</pre>"
        return SmtpNotifier(to=to, subject=subject, html_content=body, smtp_conn_id=conn_id or "smtp_default")
    if kind == "slack":
        try:
            from airflow.providers.slack.notifications.slack import SlackNotifier  # type: ignore[import-not-found]
        except ImportError as exc:
            raise AirflowFailException(
                "KAKUNIN_NOTIFY_KIND=slack needs apache-airflow-providers-slack, which is not installed"
            ) from exc
        channel = setting("notify_channel", "#general") or "#general"
        return SlackNotifier(slack_conn_id=conn_id or "slack_api_default", text=message, channel=channel)  # type: ignore[no-any-return]
    raise AirflowFailException(f"KAKUNIN_NOTIFY_KIND={kind!r} is not one of {', '.join(KINDS)}")
