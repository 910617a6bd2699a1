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

    @property
    def owner_filter(self) -> str | None:
        """The owner id that queries restrict to; None for an admin, who sees everything."""
        return None if self.admin else self.id

    def may_see(self, owner_id: str | None) -> bool:
        """Whether what `owner_id` owns is visible to this principal (else it is a 404)."""
        return self.admin or owner_id == self.id


# The one user of a server in local mode (loopback, no keys): owns everything made there.
LOCAL_PRINCIPAL = Principal(id="local", name="local", admin=True)
