"""The re-embedding service without an embedding model (with one: tests/retrieval/test_dense)."""

from __future__ import annotations

import pytest

from app.core.errors import InvalidInput
from app.lifecycle import running_container
from tests.conftest import MakeSettings


async def test_reembedding_needs_an_embedding_model(make_settings: MakeSettings) -> None:
    async with running_container(make_settings()) as container:
        with pytest.raises(InvalidInput, match="CITESTREAM_EMBEDDINGS__PROVIDER"):
            await container.reembedding_service().reembed()
