"""The knowledge base: collections of documents and their chunks, as the database holds them."""
