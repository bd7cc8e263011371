"""The landing page: who you are and what your roles let you do."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from kakunin.web.app import render
from kakunin.web.auth import WebUser, requires

router = APIRouter(include_in_schema=False)


@router.get("/")
async def home(request: Request, user: Annotated[WebUser, Depends(requires())]) -> Response:
    return render(request, user, "home.html")
