"""The wire contract of the AI SDK endpoint's response: the parts of the UI message stream
(protocol v1), each sent as `data: {part}`, and what `/openapi.json` says of them.

The parts hold exactly the keys of the SDK's own schemas (`uiMessageChunkSchema`, npm `ai` 7),
in its camelCase; what is Citestream's (metadata, citations) keeps Citestream's snake_case.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter
from pydantic.alias_generators import to_camel


class _Part(BaseModel):
    # The SDK's keys are camelCase.
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)


class MessageMetadata(BaseModel):
    """`start.messageMetadata`: the ids of Citestream's `meta` event."""

    session_id: str
    message_id: str
    run_id: str | None


class StartPart(_Part):
    type: Literal["start"] = "start"
    message_id: str = Field(description="Citestream's message id of the answer.")
    message_metadata: MessageMetadata


class TextStartPart(_Part):
    type: Literal["text-start"] = "text-start"
    id: str


class TextDeltaPart(_Part):
    type: Literal["text-delta"] = "text-delta"
    id: str
    delta: str


class TextEndPart(_Part):
    type: Literal["text-end"] = "text-end"
    id: str


class SourceDocumentPart(_Part):
    """A source the answer was written from; its `data-citations` entry says more."""

    type: Literal["source-document"] = "source-document"
    source_id: str = Field(description="`<message_id>:<index>`.")
    media_type: str = Field(description="From the document's file name; text/plain otherwise.")
    title: str = Field(description="The document's title, else its name.")
    filename: str = Field(description="The document's name.")


class CitationData(BaseModel):
    """One entry of `data-citations`: what a `source-document` part cannot carry."""

    source_id: str = Field(description="The `sourceId` of its `source-document` part.")
    index: int = Field(description="The n of `[n]` in the answer.")
    document: str
    document_id: str | None
    node_id: str
    title: str | None
    page: int | None
    heading: str | None
    snippet: str
    score: float | None
    cited: bool = Field(description="Whether the answer cites it as `[index]`.")


class CitationsPart(_Part):
    type: Literal["data-citations"] = "data-citations"
    id: str = Field(description="`<message_id>:citations`.")
    data: list[CitationData]


class FinishPart(_Part):
    type: Literal["finish"] = "finish"
    finish_reason: Literal["stop"] = "stop"


class AbortPart(_Part):
    """A cancelled answer's end, as the SDK's own streams end when stopped."""

    type: Literal["abort"] = "abort"
    reason: str


class ErrorPart(_Part):
    type: Literal["error"] = "error"
    error_text: str = Field(description="A sentence for people; never a stack trace.")


UIMessageStreamPart = Annotated[
    StartPart
    | TextStartPart
    | TextDeltaPart
    | TextEndPart
    | SourceDocumentPart
    | CitationsPart
    | FinishPart
    | AbortPart
    | ErrorPart,
    Field(discriminator="type"),
]


def _inlined(schema: Any, definitions: dict[str, Any]) -> Any:
    if isinstance(schema, dict):
        if "$ref" in schema:
            return _inlined(definitions[schema["$ref"].rpartition("/")[2]], definitions)
        return {k: _inlined(v, definitions) for k, v in schema.items() if k != "$defs"}
    if isinstance(schema, list):
        return [_inlined(item, definitions) for item in schema]
    return schema


def ui_message_stream_response() -> dict[str, Any]:
    """The OpenAPI 200 of a UI message stream: each SSE item's `data`, a JSON part or `[DONE]`
    (inlined: the route's own entry cannot add components)."""
    schema = TypeAdapter(UIMessageStreamPart).json_schema(by_alias=True, mode="serialization")
    part = _inlined(schema, schema.get("$defs", {}))
    part.pop("discriminator", None)  # its mapping points at the components it no longer has
    data = {
        "anyOf": [
            {"const": "[DONE]"},
            {"type": "string", "contentMediaType": "application/json", "contentSchema": part},
        ]
    }
    return {
        "description": "The AI SDK's UI message stream (v1): one `data: {part}` frame per part "
        "— `start`, `text-start`, `text-delta`…, `text-end`, a `source-document` per source, "
        "`data-citations`, `finish` (`abort` when cancelled, `error` on a failure) — then "
        "`data: [DONE]`. Header `x-vercel-ai-ui-message-stream: v1`.",
        "content": {
            "text/event-stream": {
                "itemSchema": {
                    "type": "object",
                    "required": ["data"],
                    "properties": {"data": data},
                }
            }
        },
    }
