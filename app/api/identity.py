"""Who the request is from, as a FastAPI dependency. Routers ask for `PrincipalDep`."""

from typing import Annotated

from fastapi import Depends, Request

from app.core.principals import LOCAL_PRINCIPAL, Principal


async def current_principal(request: Request) -> Principal:
    """The caller of this request. Until API keys exist every caller is the local user."""
    return LOCAL_PRINCIPAL


PrincipalDep = Annotated[Principal, Depends(current_principal)]
