"""Who the request is from, as a FastAPI dependency. Routers ask for `PrincipalDep`."""

from typing import Annotated

from fastapi import Depends, Request

from app.core.log_context import bind_log_ids
from app.core.principals import LOCAL_PRINCIPAL, Principal


async def current_principal(request: Request) -> Principal:
    """The caller of this request. Until API keys exist every caller is the local user."""
    principal = LOCAL_PRINCIPAL
    bind_log_ids(principal_id=principal.id)  # the request's log records, and its runs', name it
    return principal


PrincipalDep = Annotated[Principal, Depends(current_principal)]
