"""The good v2 document of every ground passes, as v2 and as v1: the rules are the same for both kinds."""

from __future__ import annotations

from typing import Any

import pytest

from tests.provenance.conftest import JudgeV2
from tests.provenance.v2 import GROUNDS


@pytest.mark.parametrize("ground", GROUNDS)
@pytest.mark.parametrize("kind", ["kakunin.provenance/v2", "kakunin.provenance/v1"])
def test_the_good_document_of_each_ground_is_accepted(judge_v2: JudgeV2, ground: str, kind: str) -> None:
    def as_kind(doc: dict[str, Any]) -> None:
        doc["kind"] = kind

    verdict = judge_v2(ground, as_kind)
    assert verdict.decision == "accepted", [(f.code.value, f.path, f.message) for f in verdict.findings]
    expected = [("ground.review", "legal_ground")] if ground == "legal_obligation" else []
    assert [(f.code.value, f.path) for f in verdict.findings] == expected


def test_ground_review_now_names_article_27_1(judge_v2: JudgeV2) -> None:
    (finding,) = judge_v2("legal_obligation").findings
    assert (finding.severity.value, finding.article) == ("warning", "27(1)")
    assert "法令に基づく場合" in finding.message
