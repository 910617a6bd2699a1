"""The remembered token counts LlamaIndex packs prompts with are tiktoken's own."""

from __future__ import annotations

from llama_index.core.utils import get_tokenizer

from app.workflows.token_counts import counting_tokenizer

TEXTS = [
    "",
    "Heartbeats",
    "How do I cancel a stream? Close the connection; the model stops.",
    "Émile's naïve café — 東京 🚀",
    "lighthouse " * 2000,  # past the longest text remembered: counted each time
]


def test_the_counts_are_tiktokens_first_time_and_every_time() -> None:
    encode = get_tokenizer()
    count = counting_tokenizer()

    first = [len(count(text)) for text in TEXTS]
    again = [len(count(text)) for text in TEXTS]

    assert first == again == [len(encode(text)) for text in TEXTS]
