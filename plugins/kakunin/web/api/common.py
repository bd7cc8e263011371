"""Routes every authenticated user may call."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from pydantic import BaseModel

from kakunin.web.auth import WebUser, requires
from kakunin.web.roles import Role

router = APIRouter(prefix="/api", tags=["session"])


class Me(BaseModel):
    """Who the API thinks you are, and what you may do."""

    user: str
    roles: list[Role]


@router.get("/me", summary="Who you are and your Kakunin roles")
async def me(user: Annotated[WebUser, Depends(requires())]) -> Me:
    return Me(user=user.name, roles=sorted(user.roles))
