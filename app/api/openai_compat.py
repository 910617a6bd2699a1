"""OpenAI-compatible endpoints: each collection is a model, and a chat completion is an answer
from it whose `[n]` markers carry `url_citation` annotations. Errors are OpenAI's shape."""

from typing import Annotated

from dependency_injector.wiring import inject
from fastapi import APIRouter, Depends, Request, Response
from sse_starlette import EventSourceResponse

from app.api.disconnects import unless_client_leaves
from app.api.event_stream import RunEventStream
from app.api.identity import PrincipalDep
from app.api.openai_chunks import Completion, completion_chunks, whole_completion
from app.api.openai_schemas import ChatCompletion, ChatCompletionRequest, ModelList
from app.api.openapi import QUESTION_ERRORS, problem_responses
from app.api.provide import Provide
from app.api.readiness import REQUIRE_READY
from app.api.sse import SSE_HEADERS, run_headers
from app.container import Container
from app.core.runs import CancelOrigin
from app.core.settings import Settings
from app.services.chat import collect_answer
from app.services.documents import DocumentService
from app.services.runs import RunService
from app.services.sent_conversations import split_conversation

router = APIRouter(prefix="/v1", tags=["openai"])

RunServiceDep = Annotated[RunService, Depends(Provide[Container.run_service])]
DocumentServiceDep = Annotated[DocumentService, Depends(Provide[Container.document_service])]
SettingsDep = Annotated[Settings, Depends(Provide[Container.settings])]

_COMPLETION_ERRORS = {
    **QUESTION_ERRORS,
    **problem_responses(
        502, 503, described={404: "No such model (`model_not_found`): the collection is unknown."}
    ),
}
_STREAM = {
    "text/event-stream": {
        # One `data:` frame each, no event names: a chunk, an error object after a failure,
        # and `[DONE]` last.
        "itemSchema": {
            "type": "object",
            "required": ["data"],
            "properties": {
                "data": {
                    "anyOf": [
                        {"const": "[DONE]"},
                        {
                            "type": "string",
                            "contentMediaType": "application/json",
                            "contentSchema": {
                                "anyOf": [
                                    {"$ref": "#/components/schemas/ChatCompletionChunk"},
                                    {"$ref": "#/components/schemas/OpenAIError"},
                                ]
                            },
                        },
                    ]
                }
            },
        },
        "example": 'data: {"id": "chatcmpl-…", "object": "chat.completion.chunk", …}\n\n'
        "data: [DONE]\n\n",
    }
}


@router.get("/models", response_model=ModelList)
@inject
async def list_models(documents: DocumentServiceDep, principal: PrincipalDep) -> ModelList:
    """List the collections you may ask, as models (`default` always)."""
    collections = await documents.list_collections(principal)
    return ModelList.of((row.name, row.updated_at) for row in collections)


@router.post(
    "/chat/completions",
    response_model=ChatCompletion,
    responses={200: {"content": _STREAM}, **_COMPLETION_ERRORS},
    dependencies=REQUIRE_READY,
)
@inject
async def chat_completions(
    body: ChatCompletionRequest,
    request: Request,
    response: Response,
    runs: RunServiceDep,
    principal: PrincipalDep,
    settings: SettingsDep,
) -> ChatCompletion | EventSourceResponse:
    """Answer the last user message, with the messages before it as the conversation.

    With `stream: true` the answer streams as `chat.completion.chunk` frames ending with
    `data: [DONE]`; closing the connection stops the answer, streamed or not.
    """
    conversation = split_conversation(body.sent_messages(), field_name="messages")
    record = await runs.start(
        conversation.question, None, body.model, principal=principal, history=conversation.history
    )
    batches = await runs.follow(
        record.run_id, principal=principal, cancel_on_close=CancelOrigin.DISCONNECT
    )
    completion = Completion.of(body, record, str(request.base_url))
    if body.stream:
        return RunEventStream.for_run(completion_chunks(batches, completion), record, settings.chat)
    ids = run_headers(record.session_id, record.message_id, record.run_id)
    response.headers.update({name: value for name, value in ids.items() if name not in SSE_HEADERS})
    answer = await unless_client_leaves(request, collect_answer(batches))
    return whole_completion(answer, completion)
