"""Vector index layer: the embedder, the sparse (BM25) encoder and the Qdrant adapters.

`ingest` writes through this package and `rag` reads through it; it imports neither.
"""
