"""Question answering: retrieval, prompting, generation, citations, the HTTP API and the widget."""
