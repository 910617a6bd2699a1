"""Liveness and Prometheus metrics."""

from typing import Annotated

from dependency_injector.wiring import Provide, inject
from fastapi import APIRouter, Depends, Response
from prometheus_client import CONTENT_TYPE_LATEST

from app.api.schemas import Health
from app.container import Container
from app.core.metrics import Metrics
from app.core.settings import Settings
from app.services.documents import DocumentService

router = APIRouter(tags=["operations"])


@router.get("/healthz", response_model=Health)
@inject
async def healthz(
    documents: Annotated[DocumentService, Depends(Provide[Container.document_service])],
    settings: Annotated[Settings, Depends(Provide[Container.settings])],
) -> Health:
    """Whether the server is up, with how many documents it can search."""
    return Health(
        status="ok",
        documents=await documents.count(),
        llm_provider=settings.llm.provider,
        retrieval=settings.retrieval_mode,
    )


@router.get("/metrics", response_class=Response)
@inject
async def metrics(metrics: Annotated[Metrics, Depends(Provide[Container.metrics])]) -> Response:
    """Prometheus metrics."""
    return Response(metrics.render(), media_type=CONTENT_TYPE_LATEST)
