"""Who is asking. Every request, run, session, document and collection is tied to a principal."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Principal:
    """The caller a request acts for: an API key's holder, or the single local user."""

    id: str
    name: str
    # Operators: may see and manage what every principal owns.
    admin: bool = False


# The one user of a server in local mode (loopback, no keys): owns everything made there.
LOCAL_PRINCIPAL = Principal(id="local", name="local", admin=True)
