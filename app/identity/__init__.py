"""API keys: who may call the server. Stored as digests, never in the clear."""
