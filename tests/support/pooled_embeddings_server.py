"""`python -m llama_cpp.server`, with embeddings mean-pooled into one vector per input.

llama.cpp's server offers no pooling option and, for a chat model like SmolLM2, answers
/v1/embeddings with one vector per token, which no OpenAI client accepts. Real embedding
servers (vLLM, Ollama, OpenAI) pool; this makes the same llama.cpp server do so.
"""

from __future__ import annotations

import sys
from typing import Any

import llama_cpp
from llama_cpp import llama as llama_module

_original_init = llama_module.Llama.__init__


def _pooled_init(self: llama_module.Llama, *args: Any, **kwargs: Any) -> None:
    if kwargs.get("embedding"):
        kwargs["pooling_type"] = llama_cpp.LLAMA_POOLING_TYPE_MEAN
    _original_init(self, *args, **kwargs)


if __name__ == "__main__":
    llama_module.Llama.__init__ = _pooled_init  # type: ignore[method-assign]
    from llama_cpp.server.__main__ import main

    sys.argv = ["llama_cpp.server", *sys.argv[1:]]
    main()  # type: ignore[no-untyped-call]
