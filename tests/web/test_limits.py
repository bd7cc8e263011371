"""The body limit holds before a route reads anything: a declared length over it, or a stream that passes it."""

from __future__ import annotations

from collections.abc import Iterator

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from kakunin.web.security import BodyLimit, SecurityHeaders

LIMIT = 1000


async def _echo_size(request: Request) -> JSONResponse:
    return JSONResponse({"size": len(await request.body())})


def _client() -> TestClient:
    app = Starlette(routes=[Route("/up", _echo_size, methods=["POST"])])
    app.add_middleware(BodyLimit, limit=lambda: LIMIT)
    app.add_middleware(SecurityHeaders)
    return TestClient(app)


def _chunks(total: int) -> Iterator[bytes]:
    for _ in range(total // 100):
        yield b"x" * 100


def test_a_body_within_the_limit_reaches_the_route() -> None:
    answer = _client().post("/up", content=b"x" * LIMIT)
    assert answer.status_code == 200
    assert answer.json() == {"size": LIMIT}


def test_a_declared_length_over_the_limit_is_refused_unread() -> None:
    answer = _client().post("/up", content=b"x" * (LIMIT + 1))
    assert answer.status_code == 413
    assert answer.json()["error"]["code"] == "upload.too_large"
    assert answer.headers["x-content-type-options"] == "nosniff"


def test_a_chunked_body_is_stopped_once_it_passes_the_limit() -> None:
    answer = _client().post("/up", content=_chunks(LIMIT * 5))
    assert answer.status_code == 413
    assert "nothing was stored" in answer.json()["error"]["message"]
