"""Imported by the parse processes' fork server only (see isolation.py), never by the app.

Reading a first file loads the tokenizer and NLTK's sentence model (half a second). Done once
here, in the fork server, every parse process forked from it starts with them loaded.
"""

from app.core.settings import IngestionSettings
from app.ingestion.parser import DocumentParser

DocumentParser(IngestionSettings()).parse("warm-up.md", b"# Warm-up\n\nA sentence. Another.\n")
