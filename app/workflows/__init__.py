"""LlamaIndex workflows and their typed events."""
