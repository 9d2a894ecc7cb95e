"""govrag composition root: the settings tree and the command line that wire `ingest`, `indices` and `rag`."""

__version__ = "0.1.0"
