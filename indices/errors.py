"""Errors raised by the index layer. Each message names the cause and the fix."""

from __future__ import annotations


class IndexError_(Exception):
    """Base class for index-layer errors (named with a trailing underscore to not shadow the builtin)."""


class IndexLockedError(IndexError_):
    """Another process holds the embedded index folder."""


class IndexNotFoundError(IndexError_):
    """The index (folder or collection) does not exist yet."""


class IndexCorruptError(IndexError_):
    """The index folder exists but cannot be read."""


class EmbedderMismatchError(IndexError_):
    """The index was built with a different embedder (name, dimension or weights)."""


class IndexUnavailableError(IndexError_):
    """The index server cannot be reached."""


class IndexFullError(IndexError_):
    """Too little free space on the disk of the embedded index for the next write (nothing was written)."""


class IndexLayoutError(IndexError_):
    """A server collection's shards, replication or storage differ from the settings."""
