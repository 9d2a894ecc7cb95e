"""Settings of the Ray executor (`GOVRAG_INGEST__RAY__...`), a leaf module that imports only pydantic."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class RaySettings(BaseModel):
    """Where `govrag ingest --executor ray` runs and how much of the cluster each stage asks for."""

    address: str | None = Field(
        default=None,
        description="Ray cluster to join (host:port of the head's GCS, 'auto', or ray://host:10001); "
        "null = RAY_ADDRESS if set, else a Ray instance started on this machine for the run. "
        "`--ray-address` overrides it.",
    )
    embed_actors: int = Field(default=1, ge=1, description="Embedding actors (each loads the embedder).")
    embed_cpus: float = Field(
        default=1.0, gt=0, description="CPUs reserved by each embedding actor (its torch threads)."
    )
    embed_gpus: Literal["auto", "0", "1"] = Field(
        default="auto",
        description="GPUs per embedding actor: 'auto' = 1 when the cluster has GPUs and embedder.device "
        "is not 'cpu', else 0.",
    )
    parse_cpus: float = Field(default=1.0, gt=0, description="CPUs reserved by each parse task.")
    max_retries: int = Field(
        default=3,
        ge=0,
        description="Retries of a parse task or an embedding call whose worker process died (the actor is "
        "restarted as often); writes are idempotent, so a retry never duplicates a chunk.",
    )
    task_timeout_s: float = Field(
        default=3600.0, gt=0, description="Longest wait for one parse task or embedding batch."
    )
    connect_timeout_s: float = Field(
        default=10.0, gt=0, description="Longest wait to reach the cluster's address before giving up."
    )
    wait_for_nodes_s: float = Field(
        default=120.0,
        ge=0,
        description="Longest wait for the cluster to offer the CPUs of the embedding actors and one parse "
        "task (worker nodes still joining) before giving up.",
    )
