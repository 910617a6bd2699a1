"""Taking a question in: check it, pick its collection, claim its session and load its
history, all before any stream opens, so a bad request gets a clean 4xx and stores nothing."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Protocol

from app.core.clock import Clock
from app.core.errors import Conflict, InvalidInput, NotFound, UnknownCollection
from app.core.names import DEFAULT_COLLECTION, check_collection_name
from app.core.principals import LOCAL_PRINCIPAL, Principal
from app.core.settings import ChatSettings
from app.memory.claims import SessionClaims
from app.memory.history import ConversationHistory
from app.memory.messages import ClaimResult, HistoryMessage
from app.services.history_window import fit_to_tokens

# How long a session stays reserved between the request and the start of its answer.
RESERVATION = timedelta(seconds=30)
# What a question searches when `default` belongs to another principal: a name no collection
# can have (it fails the name pattern), so the search finds nothing, exactly as when `default`
# does not exist yet. Nobody learns what another principal's collection holds.
NOTHING_VISIBLE = "-none-"


class KnownCollections(Protocol):
    """Port for the knowledge base: which principal owns a collection (None: no such one)."""

    async def owner_of(self, collection: str) -> str | None: ...


@dataclass(frozen=True)
class PreparedTurn:
    """A validated question, ready to be answered. Nothing is stored yet."""

    query: str
    session_id: uuid.UUID
    history: list[HistoryMessage]
    received_at: float  # the clock's monotonic time when the request arrived
    collection: str = DEFAULT_COLLECTION
    message_id: uuid.UUID = field(default_factory=uuid.uuid4)
    # False for a new conversation: its session is created, already claimed, with the turn.
    claimed: bool = True
    # Who asks: owns the new session, if one is created.
    principal_id: str = LOCAL_PRINCIPAL.id

    @property
    def session_collection(self) -> str:
        """The collection the session remembers (`default`, when that is not searchable)."""
        return DEFAULT_COLLECTION if self.collection == NOTHING_VISIBLE else self.collection


class QuestionIntake:
    """Turns a request into a PreparedTurn, or raises the domain error that says why not."""

    def __init__(
        self,
        *,
        claims: SessionClaims,
        history: ConversationHistory,
        collections: KnownCollections,
        settings: ChatSettings,
        clock: Clock,
    ) -> None:
        self._claims = claims
        self._history = history
        self._collections = collections
        self._settings = settings
        self._clock = clock

    async def prepare(
        self,
        query: str,
        session_id: uuid.UUID | None,
        collection: str | None = None,
        *,
        principal: Principal,
        create_missing: bool = False,
        history: list[HistoryMessage] | None = None,
    ) -> PreparedTurn:
        """Check the question, reserve the session and load its history.

        A session that is still answering another question is a conflict: one answer at a time.
        The collection searched is the one named, else the session's, else `default`.
        With `create_missing`, a `session_id` that does not exist yet is the id the new
        conversation gets (clients that name their chats). With `history`, the conversation
        so far is the caller's (clients that send it each time) and a new session holds the turn.
        Another principal's session or collection is answered as if it did not exist (404).
        """
        received_at = self._clock.monotonic()
        text = self._checked_query(query)
        named = None
        if collection is not None:
            check_collection_name(collection)
            named = await self._visible_collection(collection, principal)
        if session_id is None or history is not None:
            collection = named or await self._visible_collection(None, principal)
            return self._new_session(
                text, uuid.uuid4(), history or [], received_at, collection, principal, None
            )
        message_id = uuid.uuid4()
        # A short reservation: if the answer never starts (the client left before it did),
        # the session frees itself soon. Starting the answer extends the claim.
        claim = await self._claims.claim(
            session_id, message_id, RESERVATION, principal.owner_filter
        )
        if claim == ClaimResult.MISSING and create_missing:
            collection = named or await self._visible_collection(None, principal)
            return self._new_session(
                text, session_id, [], received_at, collection, principal, message_id
            )
        if claim in (ClaimResult.MISSING, ClaimResult.FOREIGN):
            raise NotFound(f"There is no session {session_id}.")
        if claim == ClaimResult.BUSY:
            raise Conflict(
                f"Session {session_id} is still answering a question; "
                "wait for that answer to end (or close its stream), then ask again."
            )
        try:
            history = await self._history.recent(session_id, self._settings.history_messages)
            collection = named
            if collection is None:
                stored = await self._history.collection_of(session_id)
                collection = await self._visible_collection(stored, principal)
        except BaseException:
            await self._claims.release(session_id, message_id)
            raise
        return PreparedTurn(
            query=text,
            session_id=session_id,
            history=fit_to_tokens(history, self._settings.history_tokens),
            received_at=received_at,
            message_id=message_id,
            collection=collection or DEFAULT_COLLECTION,
            principal_id=principal.id,
        )

    def _new_session(
        self,
        text: str,
        session_id: uuid.UUID,
        history: list[HistoryMessage],
        received_at: float,
        collection: str | None,
        principal: Principal,
        message_id: uuid.UUID | None,
    ) -> PreparedTurn:
        # Nothing to claim: the session is created, already claimed, with the turn.
        return PreparedTurn(
            query=text,
            session_id=session_id,
            history=fit_to_tokens(history, self._settings.history_tokens),
            received_at=received_at,
            collection=collection or DEFAULT_COLLECTION,
            message_id=message_id or uuid.uuid4(),
            claimed=False,
            principal_id=principal.id,
        )

    async def abandon(self, turn: PreparedTurn) -> None:
        """Give back the session of a turn that will not be answered."""
        if turn.claimed:
            await self._claims.release(turn.session_id, turn.message_id)

    def _checked_query(self, query: str) -> str:
        text = query.strip()
        if not text:
            raise InvalidInput("The query is empty.", field_name="query")
        if len(text) > self._settings.max_query_chars:
            raise InvalidInput(
                f"The query has {len(text)} characters; at most "
                f"{self._settings.max_query_chars} are allowed.",
                field_name="query",
            )
        return text

    async def _visible_collection(self, collection: str | None, principal: Principal) -> str:
        """The collection to search: the one named if the principal may see it (else 404);
        `default` when none is named, which searches nothing if another principal owns it."""
        name = collection or DEFAULT_COLLECTION
        if principal.admin and name == DEFAULT_COLLECTION:
            return name  # no query: local mode's every question
        owner = await self._collections.owner_of(name)
        if owner is not None and principal.may_see(owner):
            return name
        # `default` always exists, if only empty; another name must have had a document.
        if name == DEFAULT_COLLECTION:
            return DEFAULT_COLLECTION if owner is None else NOTHING_VISIBLE
        raise UnknownCollection(
            f"There is no collection {name!r}; upload a document into it first "
            "(POST /api/documents with collection=...)."
        )
