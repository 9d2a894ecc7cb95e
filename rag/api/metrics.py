"""Prometheus metrics of the API, in a registry of their own.

Each `Metrics` owns a `CollectorRegistry` instead of the process-global one, so two app instances (tests,
or an app rebuilt after a settings change) never collide with "Duplicated timeseries". Label values are
bounded: routes are path templates (`/v1/documents/{doc_id}`, "unmatched" for 404s), never raw paths.
"""

from __future__ import annotations

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

_REQUEST_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)
_RETRIEVAL_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class Metrics:
    """The API's counters, histograms and gauges; `render()` gives the text exposition for `/metrics`."""

    def __init__(self, namespace: str = "govrag") -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter(
            "http_requests",
            "HTTP requests answered.",
            ["route", "method", "status"],
            namespace=namespace,
            registry=r,
        )
        self.request_seconds = Histogram(
            "http_request_duration_seconds",
            "Time to answer an HTTP request (streams: until headers).",
            ["route", "method"],
            namespace=namespace,
            registry=r,
            buckets=_REQUEST_BUCKETS,
        )
        self.queries = Counter(
            "queries",
            "Questions answered.",
            ["generator", "grounded", "refused"],
            namespace=namespace,
            registry=r,
        )
        self.retrieval_seconds = Histogram(
            "retrieval_duration_seconds",
            "Time to retrieve sources.",
            namespace=namespace,
            registry=r,
            buckets=_RETRIEVAL_BUCKETS,
        )
        self.generator_errors = Counter(
            "generator_errors",
            "Generator failures (the answer fell back).",
            ["generator", "kind"],
            namespace=namespace,
            registry=r,
        )
        self.feedback = Counter(
            "feedback", "Ratings given on answers.", ["rating"], namespace=namespace, registry=r
        )
        self.documents = Gauge("index_documents", "Documents in the index.", namespace=namespace, registry=r)

    def observe_request(self, route: str, method: str, status: int, seconds: float) -> None:
        """Count one HTTP request and its duration; `route` is the path template."""
        self.requests.labels(route, method, str(status)).inc()
        self.request_seconds.labels(route, method).observe(max(0.0, seconds))

    def observe_query(self, generator: str, grounded: bool, refused: bool) -> None:
        """Count one answered question by generator and outcome."""
        self.queries.labels(generator, str(grounded).lower(), str(refused).lower()).inc()

    def observe_retrieval(self, seconds: float) -> None:
        """Record how long one retrieval took."""
        self.retrieval_seconds.observe(max(0.0, seconds))

    def observe_generator_error(self, generator: str, kind: str) -> None:
        """Count one generator failure; `kind` is a short class such as `timeout` or `http_500`."""
        self.generator_errors.labels(generator, kind).inc()

    def observe_feedback(self, rating: str) -> None:
        """Count one rating (`up` or `down`)."""
        self.feedback.labels(rating).inc()

    def set_documents(self, count: int) -> None:
        """Set the number of documents in the index (after start-up and after ingest/delete)."""
        self.documents.set(count)

    def render(self) -> tuple[bytes, str]:
        """The exposition text and its content type, for the `/metrics` response."""
        return generate_latest(self.registry), CONTENT_TYPE_LATEST
