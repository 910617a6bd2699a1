"""Documents endpoints: upload files into a collection, browse them, show a cited chunk, delete."""

import uuid
from collections.abc import AsyncIterator
from dataclasses import asdict
from typing import Annotated

from dependency_injector.wiring import inject
from fastapi import APIRouter, Depends, Query, Request, Response

from app.api.admission import ADMIT_WORK
from app.api.disconnects import unless_client_leaves
from app.api.document_schemas import (
    ChunkOut,
    CollectionOut,
    DocumentDetail,
    DocumentPage,
    IngestResult,
)
from app.api.fields import Offset, page_size
from app.api.identity import PrincipalDep
from app.api.openapi import problem_responses
from app.api.provide import Provide
from app.api.uploads import FILES_FIELD, UploadForm, read_upload_form
from app.core.names import COLLECTION_NAME_PATTERN, DEFAULT_COLLECTION
from app.core.settings import Settings
from app.services.documents import MAX_CONTEXT_RADIUS, MAX_PAGE_SIZE, DocumentService
from app.services.ingest import IncomingFile, IngestOutcome, IngestService

router = APIRouter(tags=["documents"])
# Uploads have their own body limits (app/api/uploads.py), not the JSON one.
UPLOAD_PATH = "/api/documents"

# Providers named by id, resolved when create_app wires this module: the router imports the
# services it calls, not the container (which imports every layer).
DocumentServiceDep = Annotated[DocumentService, Depends(Provide["document_service"])]
IngestServiceDep = Annotated[IngestService, Depends(Provide["ingest_service"])]
SettingsDep = Annotated[Settings, Depends(Provide["settings"])]
Limit = Annotated[int, page_size(MAX_PAGE_SIZE)]


_UPLOAD_BODY = {
    "required": True,
    "content": {
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "required": [FILES_FIELD],
                "properties": {
                    FILES_FIELD: {
                        "type": "array",
                        "minItems": 1,
                        # maxItems: CITESTREAM_INGESTION__MAX_FILES_PER_REQUEST (app/api/openapi.py)
                        "items": {"type": "string", "format": "binary"},
                        "description": "Markdown, text, HTML or PDF files, each named with its "
                        "extension (.md, .markdown, .txt, .html, .htm, .pdf), not empty, text "
                        "in UTF-8; two files of one upload may not share a name.",
                    },
                    "collection": {
                        "type": "string",
                        "default": DEFAULT_COLLECTION,
                        "pattern": COLLECTION_NAME_PATTERN,
                    },
                },
            },
            # A file part carries its name, and the name's extension says how to read it.
            "encoding": {
                FILES_FIELD: {
                    "contentType": "text/markdown, text/plain, text/html, application/pdf",
                    "headers": {
                        "Content-Disposition": {
                            "schema": {"type": "string"},
                            "example": 'form-data; name="files"; filename="handbook.md"',
                        }
                    },
                }
            },
        }
    },
}


@inject
async def _upload_form(request: Request, settings: SettingsDep) -> AsyncIterator[UploadForm]:
    # A dependency with clean-up, so the spooled files are closed however the request ends.
    form = await read_upload_form(request, settings.ingestion)
    try:
        yield form
    finally:
        form.close()


UploadFormDep = Annotated[UploadForm, Depends(_upload_form)]


@router.post(
    UPLOAD_PATH,
    status_code=201,
    response_model=IngestResult,
    dependencies=ADMIT_WORK,
    openapi_extra={"requestBody": _UPLOAD_BODY},
    responses={
        200: {
            "description": "Nothing changed: every file's content was already there.",
            "model": IngestResult,
        },
        **problem_responses(
            described={
                404: "The collection belongs to another key (names are global: choose another).",
                409: "Another request is ingesting the same file.",
                413: "A file is over the size limit, too many files, or a file's text or chunks "
                "are over their limits (`document_too_large`).",
                415: "A file type that cannot be ingested, or not multipart/form-data.",
                422: "An empty, unreadable or corrupt file, two files of one name, a bad "
                "collection name, or a file whose reading passed a CPU-time, wall-time or "
                "memory limit (`parse_limit_exceeded`).",
                429: "The key sent too many requests that start work (rate_limited).",
                503: "The server began shutting down while a file was being read, or embeddings "
                "or the vector store are unavailable.",
            }
        ),
    },
)
@inject
async def upload_documents(
    request: Request,
    form: UploadFormDep,
    response: Response,
    service: IngestServiceDep,
    principal: PrincipalDep,
) -> IngestResult:
    """Ingest files into a collection: added, updated (same name, new content) or unchanged.

    All or nothing: every file is checked and read before any is stored, and the new versions
    of all of them go live together, so any error leaves the knowledge base as it was. A client
    that leaves before the answer abandons the upload: its parsing stops, nothing is stored.
    """
    files = [IncomingFile(f.filename, f.size, f.read) for f in form.files]
    collection = form.fields.get("collection", DEFAULT_COLLECTION)
    results = await unless_client_leaves(request, service.ingest(files, collection, principal))
    if all(result.outcome == IngestOutcome.UNCHANGED for result in results):
        response.status_code = 200
    return IngestResult.model_validate({"documents": [asdict(r) for r in results]})


@router.get("/api/documents", response_model=DocumentPage)
@inject
async def list_documents(
    service: DocumentServiceDep,
    principal: PrincipalDep,
    collection: Annotated[
        str | None,
        Query(pattern=COLLECTION_NAME_PATTERN, description="Only this collection."),
    ] = None,
    limit: Limit = 20,
    offset: Offset = 0,
) -> DocumentPage:
    """List documents, by collection and name."""
    return DocumentPage.model_validate(
        await service.list_documents(collection, limit, offset, principal)
    )


@router.get(
    "/api/documents/{document_id}",
    response_model=DocumentDetail,
    responses=problem_responses(
        described={404: "No such document, or no such chunk in its current version."}
    ),
)
@inject
async def get_document(
    document_id: uuid.UUID,
    service: DocumentServiceDep,
    principal: PrincipalDep,
    chunk_id: Annotated[
        uuid.UUID | None, Query(description="A cited chunk (`node_id` of a source) to show.")
    ] = None,
    context: Annotated[
        int, Query(ge=0, le=MAX_CONTEXT_RADIUS, description="Neighbouring chunks on each side.")
    ] = 1,
) -> DocumentDetail:
    """Show a document; with `chunk_id`, the cited chunk in context."""
    found = await service.get(document_id, principal, chunk_id, context)
    detail = DocumentDetail.model_validate(found.document)
    if found.context is not None:
        detail.context = [
            ChunkOut(**asdict(chunk), focus=chunk.id == found.focus) for chunk in found.context
        ]
    return detail


@router.delete(
    "/api/documents/{document_id}",
    status_code=204,
    response_class=Response,
    responses=problem_responses(described={404: "No such document."}),
)
@inject
async def delete_document(
    document_id: uuid.UUID, service: DocumentServiceDep, principal: PrincipalDep
) -> Response:
    """Delete a document and its chunks; answers stop citing it at once."""
    await service.delete(document_id, principal)
    return Response(status_code=204)


@router.get("/api/collections", response_model=list[CollectionOut])
@inject
async def list_collections(
    service: DocumentServiceDep, principal: PrincipalDep
) -> list[CollectionOut]:
    """List your collections with how many documents and chunks each holds."""
    return [CollectionOut.model_validate(row) for row in await service.list_collections(principal)]
