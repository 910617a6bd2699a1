"""The knowledge base: collections of documents and their versioned chunks, in SQL.

`rows` holds what the rest of the app sees (plain frozen rows, the document status) and `models`
the tables. One class per job reads or writes them: `CollectionCatalog` (collections),
`DocumentLookup` (documents), `DocumentVersions` (writing a version, deleting) and `ChunkLookup`
(chunks).
"""
