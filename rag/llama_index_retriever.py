"""govrag's retrieval as a LlamaIndex retriever: hybrid, access-filtered search for LlamaIndex pipelines.

LlamaIndex users compose retrievers with their own query engines, routers and agents. This adapter gives
them govrag's retrieval (dense + BM25 fusion inside Qdrant, language detection, the optional reranker)
behind LlamaIndex's `BaseRetriever`, with the caller's access filter applied inside the index exactly as
the REST API applies it. It defaults to the `public` group only, so a pipeline that forgets to pass the
officer's groups cannot see restricted documents.

    from govrag.components import make_retriever, open_components
    comps = open_components(settings, create=False)
    retriever = GovragRetriever(make_retriever(settings, comps), groups=["public", "health-staff"])
    nodes = retriever.retrieve("How much is the passport renewal fee?")
"""

from __future__ import annotations

from collections.abc import Sequence

from llama_index.core.retrievers import BaseRetriever
from llama_index.core.schema import NodeWithScore, QueryBundle, TextNode

from indices.schema import Hit, SearchFilter, SearchMode
from rag.retrieval import Retriever


class GovragRetriever(BaseRetriever):
    """A LlamaIndex `BaseRetriever` over a govrag `Retriever`.

    Each node is one chunk: its text, the chunk's point id as node id, the fused score, and the metadata a
    citation needs (document id, title, page, section path, language, agency). `groups` are the caller's
    access groups (default `["public"]`); `groups=None` means unrestricted and is for trusted back-office
    code only. `agency`/`langs` narrow the search like the API's filters.
    """

    def __init__(
        self,
        retriever: Retriever,
        *,
        top_k: int = 5,
        mode: SearchMode = SearchMode.HYBRID,
        groups: Sequence[str] | None = ("public",),
        agency: str | None = None,
        langs: Sequence[str] | None = None,
        one_per_doc: bool = False,
    ) -> None:
        if top_k < 1:
            raise ValueError(f"top_k must be at least 1, got {top_k}")
        super().__init__()
        self._retriever = retriever
        self._top_k = top_k
        self._mode = mode
        self._one_per_doc = one_per_doc
        self._filter = SearchFilter(
            groups=list(groups) if groups is not None else None,
            agencies=[agency] if agency else None,
            langs=list(langs) if langs else None,
        )

    def _retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        result = self._retriever.search(
            query_bundle.query_str,
            k=self._top_k,
            mode=self._mode,
            flt=self._filter,
            one_per_doc=self._one_per_doc,
        )
        return [NodeWithScore(node=_node(hit), score=hit.score) for hit in result.hits]


def _node(hit: Hit) -> TextNode:
    record = hit.record
    metadata: dict[str, object] = {
        "doc_id": record.doc_id,
        "chunk_no": record.chunk_no,
        "title": record.title,
        "lang": record.lang,
        "agency": record.agency,
    }
    if record.page is not None:
        metadata["page_label"] = str(record.page)
    if record.section:
        metadata["section"] = " > ".join(record.section)
    return TextNode(
        id_=hit.id or record.point_id,
        text=record.text,
        metadata=metadata,
        # Citation metadata is for the application; the LLM sees the title and section with the text.
        excluded_llm_metadata_keys=["doc_id", "chunk_no", "lang", "agency"],
        excluded_embed_metadata_keys=list(metadata),
    )
