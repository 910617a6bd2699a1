"""Liveness, readiness and Prometheus metrics."""

from typing import Annotated

from dependency_injector.wiring import inject
from fastapi import APIRouter, Depends, Response
from prometheus_client import CONTENT_TYPE_LATEST

from app.api.health_schemas import Health
from app.api.health_schemas import Readiness as ReadinessBody
from app.api.provide import Provide
from app.container import Container
from app.core.metrics import Metrics
from app.core.settings import Settings
from app.services.documents import DocumentService
from app.services.readiness import Phase, Readiness

router = APIRouter(tags=["operations"])

ReadinessDep = Annotated[Readiness, Depends(Provide[Container.readiness])]


@router.get("/healthz", response_model=Health)
@inject
async def healthz(
    readiness: ReadinessDep,
    documents: Annotated[DocumentService, Depends(Provide[Container.document_service])],
    settings: Annotated[Settings, Depends(Provide[Container.settings])],
) -> Health:
    """Whether the server is up, with how many documents it can search."""
    return Health(
        status="ok" if readiness.phase == Phase.READY else readiness.phase.value,
        documents=await documents.count(),
        llm_provider=settings.llm.provider,
        retrieval=settings.retrieval_mode,
    )


@router.get(
    "/readyz",
    response_model=ReadinessBody,
    responses={503: {"model": ReadinessBody, "description": "Starting, draining or failed."}},
)
@inject
async def readyz(readiness: ReadinessDep, response: Response) -> ReadinessBody:
    """Whether this instance takes new questions: 200 when ready, 503 otherwise."""
    if readiness.phase != Phase.READY:
        response.status_code = 503
        response.headers["Retry-After"] = "1"
    return ReadinessBody(status=readiness.phase.value, detail=readiness.failure)


@router.get("/metrics", response_class=Response)
@inject
async def metrics(metrics: Annotated[Metrics, Depends(Provide[Container.metrics])]) -> Response:
    """Prometheus metrics."""
    return Response(metrics.render(), media_type=CONTENT_TYPE_LATEST)
