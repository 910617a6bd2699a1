"""Who a request is from: API keys, stream tokens and the browser's session cookie.

Auth is enforced when `auth.required` is set, when the server listens beyond loopback, or as
soon as one active key exists; otherwise (local mode) every caller is the local user.
"""

from __future__ import annotations

import ipaddress
import logging
import uuid
from dataclasses import dataclass

from app.core.errors import CrossSiteRequest, NotFound, Unauthenticated
from app.core.principals import LOCAL_PRINCIPAL, Principal
from app.core.settings import AuthSettings, ServerSettings
from app.services.keys import KeyService
from app.services.signing import Signer, StreamGrant

logger = logging.getLogger(__name__)

_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def is_loopback(host: str) -> bool:
    """Whether `host` is reachable only from this machine."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class Credentials:
    """What a request offers to prove who it is, and what the checks need to know about it."""

    method: str
    # A request that changes something although its method is safe (GET /api/chat/stream).
    starts_work: bool = False
    bearer: str | None = None
    # `?access_token=`: only offered by the API for GETs of a stream endpoint.
    access_token: str | None = None
    # The run or session the stream endpoint reads (what a stream token must be bound to).
    stream_run: uuid.UUID | None = None
    stream_session: uuid.UUID | None = None
    cookie: str | None = None
    # For cookies on unsafe methods: where the request says it comes from.
    origin: str | None = None
    sec_fetch_site: str | None = None
    own_origin: str = ""


@dataclass(frozen=True)
class IssuedToken:
    """A stream token and how long it lasts."""

    token: str
    expires_in_s: float


class AuthService:
    """Turns credentials into a principal, and issues stream tokens and session cookies."""

    def __init__(
        self, *, keys: KeyService, signer: Signer, settings: AuthSettings, server: ServerSettings
    ) -> None:
        self._keys = keys
        self._signer = signer
        self._settings = settings
        self._beyond_loopback = not is_loopback(server.host)

    @property
    def settings(self) -> AuthSettings:
        return self._settings

    async def enforced(self) -> bool:
        """Whether requests need credentials now (see the module's docstring)."""
        if self._settings.required or self._beyond_loopback:
            return True
        return await self._keys.any_active()

    async def announce(self) -> None:
        """One start-up line saying who may call this server."""
        if not await self.enforced():
            # The intended default on a laptop, so not a warning; but always said.
            logger.info(
                "Local mode: no API key exists and the server listens on loopback, so it is "
                "open to anyone on this machine. Create a key (`citestream keys create --name "
                "NAME`) to require one."
            )
        elif not await self._keys.any_active():
            logger.warning(
                "API keys are required but none exists: create one with `citestream keys "
                "create --name NAME --admin`."
            )
        else:
            logger.info("API keys are required (Authorization: Bearer <key>).")

    async def authenticate(self, credentials: Credentials) -> Principal:
        """The principal of the request; Unauthenticated (401) when enforced and none is proven.

        An Authorization header is decisive (a bad key is never rescued by a cookie); then a
        stream token, then the session cookie.
        """
        if not await self.enforced():
            return LOCAL_PRINCIPAL
        if credentials.bearer is not None:
            principal = await self._keys.principal_for_key(credentials.bearer)
            if principal is None:
                raise Unauthenticated("The API key is unknown or revoked.")
            return principal
        if credentials.access_token is not None:
            return await self._from_stream_token(credentials)
        if credentials.cookie is not None:
            return await self._from_cookie(credentials)
        raise Unauthenticated()

    async def issue_stream_token(
        self, principal: Principal, run_id: uuid.UUID | None, session_id: uuid.UUID | None
    ) -> IssuedToken:
        """A token for EventSource, bound to one run or one session (the caller has checked
        that the principal may see it)."""
        token = self._signer.stream_token(StreamGrant(principal.id, run_id, session_id))
        return IssuedToken(token, self._settings.stream_token_ttl_s)

    def session_cookie(self, principal: Principal) -> str:
        """The signed value of the browser session cookie for `principal`."""
        return self._signer.session_cookie(principal.id)

    async def _from_stream_token(self, credentials: Credentials) -> Principal:
        grant = self._signer.check_stream_token(
            credentials.access_token or "", self._settings.stream_token_ttl_s
        )
        if grant is None:
            raise Unauthenticated("The stream token is invalid or has expired; get a new one.")
        principal = await self._principal(grant.principal_id)
        bound = (grant.run_id is not None and grant.run_id == credentials.stream_run) or (
            grant.session_id is not None and grant.session_id == credentials.stream_session
        )
        if not bound:
            # The token is for another run or session: to its holder, this one does not exist.
            raise NotFound("The stream token is not for this run or session.")
        return principal

    async def _from_cookie(self, credentials: Credentials) -> Principal:
        principal_id = self._signer.check_session_cookie(
            credentials.cookie or "", self._settings.session_ttl_s
        )
        if principal_id is None:
            raise Unauthenticated("The session has expired; sign in again.")
        principal = await self._principal(principal_id)
        changes = credentials.starts_work or credentials.method.upper() not in _SAFE_METHODS
        if changes and not _same_origin(credentials):
            raise CrossSiteRequest()
        return principal

    async def _principal(self, principal_id: str) -> Principal:
        principal = await self._keys.principal_by_id(principal_id)
        if principal is None:
            raise Unauthenticated("The API key behind this token or session was revoked.")
        return principal


def _same_origin(credentials: Credentials) -> bool:
    # Browsers attach cookies to cross-site requests too (SameSite=Strict stops most, but not
    # requests from a sibling subdomain, which counts as same-site). Browsers always send
    # Sec-Fetch-Site or Origin on such requests and a page cannot forge them: a cookie is only
    # trusted for a change when they say the request came from our own origin.
    if credentials.sec_fetch_site is not None:
        return credentials.sec_fetch_site == "same-origin"
    return credentials.origin is not None and credentials.origin == credentials.own_origin
