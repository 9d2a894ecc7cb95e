"""Ingestion: turn sources (files, exports, URLs) into chunks and write them through `indices`."""
