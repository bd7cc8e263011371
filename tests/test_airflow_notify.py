"""The report's notifier is chosen by configuration, and a wrong setting is a clear error, not a retry."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def notify_env(airflow_home: Path, monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """Airflow in the session's home (Airflow reads its home once per process); notifier settings cleared."""
    for name in ("KIND", "CONN_ID", "TO", "CHANNEL"):
        monkeypatch.setenv(f"KAKUNIN_NOTIFY_{name}", "")
    return monkeypatch


def test_smtp_mails_the_report_through_the_configured_connection(notify_env: pytest.MonkeyPatch) -> None:
    from airflow.providers.smtp.notifications.smtp import SmtpNotifier

    from kakunin_airflow.notify import make_notifier

    notify_env.setenv("KAKUNIN_NOTIFY_KIND", "smtp")
    notify_env.setenv("KAKUNIN_NOTIFY_CONN_ID", "smtp_compliance")
    notify_env.setenv("KAKUNIN_NOTIFY_TO", "dpo@example.com")
    notifier = make_notifier("[kakunin] 2 rejected", "- `jp_customer_leads/x` at parse: parse.schema")
    assert isinstance(notifier, SmtpNotifier)
    assert (notifier.smtp_conn_id, notifier.to, notifier.subject) == (
        "smtp_compliance",
        "dpo@example.com",
        "[kakunin] 2 rejected",
    )
    assert "parse.schema" in notifier.html_content


@pytest.mark.parametrize(
    ("kind", "message"),
    [
        pytest.param("smtp", "needs KAKUNIN_NOTIFY_TO", id="smtp-without-address"),
        pytest.param("slack", "needs apache-airflow-providers-slack", id="slack-not-installed"),
        pytest.param("pager", "is not one of log, smtp, slack", id="unknown"),
    ],
)
def test_a_wrong_notifier_setting_fails_at_once_saying_what_to_set(
    notify_env: pytest.MonkeyPatch, kind: str, message: str
) -> None:
    from airflow.sdk.exceptions import AirflowFailException

    from kakunin_airflow.notify import make_notifier

    notify_env.setenv("KAKUNIN_NOTIFY_KIND", kind)
    notify_env.setenv("KAKUNIN_NOTIFY_CONN_ID", "any")
    with pytest.raises(AirflowFailException, match=message):
        make_notifier("subject", "message")
