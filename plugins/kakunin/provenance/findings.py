"""Findings and the verdict a provenance check returns."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal

from pydantic import BaseModel, ConfigDict

from kakunin.codes import ReasonCode, Severity


class Finding(BaseModel):
    """One thing wrong (or worth a look) in a document, at one field."""

    model_config = ConfigDict(frozen=True)

    code: ReasonCode
    severity: Severity
    path: str
    message: str
    article: str | None

    @classmethod
    def of(
        cls,
        code: ReasonCode,
        path: str,
        message: str,
        *,
        article: str | None = None,
        severity: Severity | None = None,
    ) -> Finding:
        """A finding with the code's own severity and, unless given, its article.

        `severity` overrides the default only with another severity the code allows
        (`ReasonCode.severities`: `special_care.mismatch` is an error or a warning); any
        other override is a programming error, so a code cannot drift to a new severity.
        """
        chosen = code.severity if severity is None else severity
        if chosen not in code.severities:
            raise ValueError(f"{code.value} is never a {chosen.value}")
        return cls(code=code, severity=chosen, path=path, message=message, article=article or code.article)


Decision = Literal["accepted", "rejected"]


class Verdict(BaseModel):
    """What `provenance check` answers: the decision and every finding behind it."""

    model_config = ConfigDict(frozen=True)

    document_id: str | None
    decision: Decision
    findings: list[Finding]
    dataset: str | None = None
    document_sha256: str | None = None

    @property
    def accepted(self) -> bool:
        return self.decision == "accepted"

    @property
    def error_codes(self) -> list[ReasonCode]:
        return _unique(f.code for f in self.findings if f.severity is Severity.ERROR)

    @property
    def warning_codes(self) -> list[ReasonCode]:
        return _unique(f.code for f in self.findings if f.severity is Severity.WARNING)


def decide(findings: list[Finding]) -> Decision:
    """Any error rejects; warnings never do."""
    return "rejected" if any(f.severity is Severity.ERROR for f in findings) else "accepted"


def _unique(codes: Iterable[ReasonCode]) -> list[ReasonCode]:
    return list(dict.fromkeys(codes))
