"""Turning files into chunks: a reader per format, the chunker, and the parser that runs both."""
