"""The model's answer as the workflow hands it over: a token stream not yet read.

The workflow ends once it knows what to answer from (the standalone question and the numbered
passages) and has the model's stream ready; the tokens are read after it, by the one reader of
the answer. A running workflow holds its runtime (a control loop, a queue and a worker per
step, their tasks, the events in flight): about 55 KB of the 125 KB an open stream held
(tracemalloc), kept for as long as the model wrote while the answer step streamed inside it.

Nothing runs in the background: the model writes only while `write` reads it, and cancelling
the reader closes the stream, which stops the model at once.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncGenerator, Callable
from contextlib import aclosing

from app.core.errors import CitestreamError, LLMFailure
from app.llms.deadlines import TokenDeadlines

logger = logging.getLogger(__name__)

# Where the answer's text goes as the model writes it: a plain call per piece.
DeltaSink = Callable[[str], None]


class AnswerStream:
    """One answer's tokens, read once, under the model's first-token and stall limits."""

    def __init__(self, tokens: AsyncGenerator[str, None], deadlines: TokenDeadlines) -> None:
        self._tokens = tokens
        self._deadlines = deadlines

    async def write(self, sink: DeltaSink) -> str:
        """Read the answer into `sink` piece by piece; returns the whole text. The stream is
        closed however this ends, so a cancelled reader stops the model."""
        parts: list[str] = []
        try:
            # From the request to the model on: connecting, reading the prompt, each token.
            async with aclosing(self._tokens) as tokens, self._deadlines.watch() as clock:
                async for delta in tokens:
                    clock.tick()
                    parts.append(delta)
                    sink(delta)
        except CitestreamError:
            raise
        except Exception as error:
            logger.exception("The language model failed mid-answer")
            raise LLMFailure() from error
        return "".join(parts)


async def said(text: str) -> AsyncGenerator[str, None]:
    """An answer known without asking the model, as a stream of one piece."""
    yield text
