"""Request and response bodies of the OpenAI-compatible API, in OpenAI's own field names.

Only what Citestream acts on is declared in requests; every other parameter an OpenAI client
may send (temperature, max_tokens, user, ...) is accepted and ignored, since client libraries
send some by default and the answer is shaped by Citestream's citation prompt anyway.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from app.api.fields import StorableStr
from app.core.names import DEFAULT_COLLECTION
from app.services.sent_conversations import SentMessage

# Requests take JSON's own types only: `"include_usage": 0` is an error, not a false.
_STRICT = ConfigDict(strict=True)


class TextPart(BaseModel):
    """A text part of a message's content (the only kind Citestream reads)."""

    model_config = _STRICT

    type: Literal["text"] = Field(description="Only `text`: Citestream reads no images or audio.")
    text: StorableStr


class ChatMessage(BaseModel):
    """One message of the conversation."""

    model_config = _STRICT

    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: StorableStr | list[TextPart] | None = Field(
        default=None, description="A string, or a list of text parts (joined by line breaks)."
    )

    def text(self) -> str:
        """The content as one text."""
        if isinstance(self.content, list):
            return "\n".join(part.text for part in self.content)
        return self.content or ""


class StreamOptions(BaseModel):
    model_config = _STRICT

    include_usage: bool = Field(
        default=False, description="Send a last chunk with `usage` and no choices."
    )


class ChatCompletionRequest(BaseModel):
    """A chat completion request. Other OpenAI parameters are accepted and ignored."""

    model_config = ConfigDict(
        strict=True,
        json_schema_extra={
            "examples": [
                {
                    "model": "default",
                    "messages": [{"role": "user", "content": "How do I cancel a stream?"}],
                    "stream": True,
                }
            ]
        },
    )

    model: str = Field(description="The collection to answer from (see `GET /v1/models`).")
    messages: list[ChatMessage] = Field(
        min_length=1,
        description="The conversation: the last message is the user's question, the user and "
        "assistant messages before it are the history. System and developer messages are not "
        "used (Citestream's citation prompt governs the answer).",
    )
    stream: bool = Field(default=False, description="Stream the answer as chunks (SSE).")
    stream_options: StreamOptions | None = None
    n: int | None = Field(default=None, ge=1, le=1, description="Only 1: one answer each time.")
    tools: list[dict[str, Any]] | None = Field(
        default=None,
        description="Not supported: Citestream answers from documents only (null or `[]`).",
        json_schema_extra={"maxItems": 0},
    )

    def sent_messages(self) -> list[SentMessage]:
        """The messages, each reduced to its role and text."""
        return [SentMessage(message.role, message.text()) for message in self.messages]

    @field_validator("tools")
    @classmethod
    def _no_tools(cls, tools: list[dict[str, Any]] | None) -> list[dict[str, Any]] | None:
        # A client that offers tools expects tool calls: silence would mislead it.
        if tools:
            raise ValueError("Citestream calls no tools; send the request without `tools`.")
        return tools


class URLCitation(BaseModel):
    start_index: int = Field(description="Where the `[n]` marker starts in `content`.")
    end_index: int = Field(description="Just after the marker.")
    url: str = Field(description="The documents API URL showing the cited passage in context.")
    title: str = Field(description="The cited document's title (else its name).")


class Annotation(BaseModel):
    """One `[n]` marker of the answer and the passage it cites."""

    type: Literal["url_citation"] = "url_citation"
    url_citation: URLCitation


class Usage(BaseModel):
    """Tokens counted with tiktoken: of the messages sent, and of the answer."""

    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


class AssistantMessage(BaseModel):
    role: Literal["assistant"] = "assistant"
    content: str
    refusal: None = None
    annotations: list[Annotation]


class Choice(BaseModel):
    index: int = 0
    message: AssistantMessage
    finish_reason: Literal["stop"] = "stop"
    logprobs: None = None


class ChatCompletion(BaseModel):
    """A whole answer, with its citations as annotations."""

    id: str = Field(description="`chatcmpl-` and the answer's message id (hex).")
    object: Literal["chat.completion"] = "chat.completion"
    created: int = Field(description="Unix time, in seconds.")
    model: str
    choices: list[Choice]
    usage: Usage


class Delta(BaseModel):
    role: Literal["assistant"] | None = None
    content: str | None = None
    # Not in openai-python's ChoiceDelta type, whose models keep unknown fields as attributes.
    annotations: list[Annotation] | None = None


class ChunkChoice(BaseModel):
    index: int = 0
    delta: Delta
    finish_reason: Literal["stop"] | None = None


class ChatCompletionChunk(BaseModel):
    """One `data:` frame of a streamed answer."""

    id: str
    object: Literal["chat.completion.chunk"] = "chat.completion.chunk"
    created: int
    model: str
    choices: list[ChunkChoice]
    usage: Usage | None = None


class Model(BaseModel):
    """A collection, offered as a model."""

    id: str = Field(description="The collection's name.")
    object: Literal["model"] = "model"
    created: int = Field(description="When the collection last changed (Unix seconds; 0: never).")
    owned_by: str = "citestream"


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[Model]

    @classmethod
    def of(cls, collections: Iterable[tuple[str, datetime]]) -> ModelList:
        """The collections (name, last change) as models, with `default` always among them:
        a question without a collection asks it, even before anything is uploaded."""
        models = {
            name: Model(id=name, created=int(changed.timestamp())) for name, changed in collections
        }
        models.setdefault(DEFAULT_COLLECTION, Model(id=DEFAULT_COLLECTION, created=0))
        return cls(data=sorted(models.values(), key=lambda model: model.id))


class OpenAIErrorDetail(BaseModel):
    message: str
    type: str = Field(description="invalid_request_error, authentication_error, ...")
    code: str | None = Field(description="Citestream's stable code, or `model_not_found`.")
    param: str | None = Field(description="The request field at fault, when one is.")


class OpenAIError(BaseModel):
    """An error, as OpenAI's clients expect it."""

    error: OpenAIErrorDetail
