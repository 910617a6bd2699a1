"""Admission as FastAPI dependencies: every API request spends one of its key's requests per
minute; uploads also spend a work request (runs and chats do so in RunService.start)."""

from typing import Annotated

from dependency_injector.wiring import inject
from fastapi import Depends
from fastapi.params import Depends as DependsParam

from app.api.identity import PrincipalDep
from app.api.provide import Provide
from app.container import Container
from app.services.admission import AdmissionControl

AdmissionDep = Annotated[AdmissionControl, Depends(Provide[Container.admission])]


@inject
async def admit_request(principal: PrincipalDep, admission: AdmissionDep) -> None:
    """429 `rate_limited` once the caller's key is over its requests per minute."""
    await admission.admit_request(principal)


@inject
async def admit_work(principal: PrincipalDep, admission: AdmissionDep) -> None:
    """429 `rate_limited` once the caller's key is over its work-starting requests per minute."""
    await admission.admit_work(principal)


# For a router (every API request) and for a route that starts work other than a run.
ADMIT_REQUEST: list[DependsParam] = [Depends(admit_request)]
ADMIT_WORK: list[DependsParam] = [Depends(admit_work)]
