"""Language model providers. `build_llm` picks one from the settings."""

from app.llms.factory import build_llm

__all__ = ["build_llm"]
