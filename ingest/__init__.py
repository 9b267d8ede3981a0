"""Ingestion pipeline: load documents, chunk them, embed the chunks, publish the index."""
