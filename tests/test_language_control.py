"""Language control of LLM answers (`rag.language_control`, `LLMAnswerer`): an answer in another language
than the question's is stopped before it is shown and asked again with a reminder; what still comes back
in the wrong language carries a warning. The generator is scripted (what a small model really did: the
1.5B eval in docs/eval-results.md); the detector, prompts, verification and embedder are the real ones."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Any

import anyio
import pytest

from indices.language import LanguageDetector
from indices.schema import ChunkRecord, Hit
from rag.answerers import AnswerRun, ExtractiveAnswerer, LLMAnswerer
from rag.extractive import ExtractiveSettings
from rag.language_control import (
    LanguageControlSettings,
    answer_language,
    same_language,
    visible_text,
    with_language_reminder,
)
from rag.prompting import PromptBuilder, PromptSettings, TokenCounter

FEE_EN = "The renewal fee is 70 dollars, paid by card when you submit the application."
QUESTION_TH = "ต่ออายุหนังสือเดินทางมีค่าใช้จ่ายเท่าไร"  # how much does renewing a passport cost?
ANSWER_EN = "The renewal fee for a passport is 70 dollars, paid by card [1]."
ANSWER_TH = "ค่าธรรมเนียมการต่ออายุหนังสือเดินทางคือ 70 ดอลลาร์ ชำระด้วยบัตรเมื่อยื่นคำขอ [1]"


class _Stream:
    def __init__(self, pieces: list[str]) -> None:
        self._pieces = iter(pieces)
        self.closed = False
        self.sent = 0
        self.finish_reason: str | None = None
        self.usage: dict[str, int] = {}
        self.model = "scripted"

    def __aiter__(self) -> _Stream:
        return self

    async def __anext__(self) -> str:
        try:
            piece = next(self._pieces)
        except StopIteration:
            raise StopAsyncIteration from None
        self.sent += 1
        return piece

    async def aclose(self) -> None:
        self.closed = True


class ScriptedGenerator:
    """Replies with the next scripted answer, split into 4-character deltas; keeps what it was sent."""

    name = "vllm"
    answer_deadline_s = 60.0

    def __init__(self, *answers: str) -> None:
        self.answers = list(answers)
        self.calls: list[list[dict[str, Any]]] = []
        self.streams: list[_Stream] = []

    def stream(self, messages: Sequence[dict[str, Any]], **_: Any) -> _Stream:
        self.calls.append([dict(m) for m in messages])
        text = self.answers.pop(0)
        stream = _Stream([text[i : i + 4] for i in range(0, len(text), 4)])
        self.streams.append(stream)
        return stream

    async def complete(self, *_: Any, **__: Any) -> Any:
        raise AssertionError("not used")

    async def health(self) -> bool:
        return True

    async def aclose(self) -> None:
        pass


@pytest.fixture(scope="module")
def detector() -> LanguageDetector:
    return LanguageDetector()


def _answer(
    embedder: Any, detector: LanguageDetector, gen: ScriptedGenerator, language: str = "th", **control: Any
) -> tuple[list[tuple[str, dict[str, Any]]], AnswerRun]:
    prompts = PromptBuilder(PromptSettings(), TokenCounter("qwen3"))
    answerer = LLMAnswerer(
        gen,  # type: ignore[arg-type]
        prompts,
        embedder,
        ExtractiveAnswerer(ExtractiveSettings(), embedder),
        max_answer_tokens=128,
        detector=detector,
        language=LanguageControlSettings(**control),
    )
    sources = [Hit(ChunkRecord(doc_id="passport", chunk_no=0, text=FEE_EN, title="Passport", lang="en"), 3.0)]
    run = AnswerRun()
    answerer.prepare(QUESTION_TH, language, sources, run)

    async def go() -> list[tuple[str, dict[str, Any]]]:
        stream: AsyncIterator[tuple[str, dict[str, Any]]] = answerer.answer(
            QUESTION_TH, language, sources, None, run
        )
        return [e async for e in stream]

    return anyio.run(go), run


def _shown(events: list[tuple[str, dict[str, Any]]]) -> str:
    return "".join(d["text"] for e, d in events if e == "delta")


def test_english_answer_to_a_thai_question_is_stopped_and_asked_again(embedder: Any, detector: Any) -> None:
    gen = ScriptedGenerator(ANSWER_EN, ANSWER_TH)
    events, run = _answer(embedder, detector, gen)
    assert _shown(events) == ANSWER_TH  # nothing of the English attempt reached the caller
    assert len(gen.calls) == 2
    assert gen.streams[0].closed
    assert gen.streams[0].sent < len(ANSWER_EN) / 4
    reminder = gen.calls[1][-1]["content"]
    assert reminder.endswith("Write the whole answer in Thai, the language of the question.")
    assert gen.calls[1][:-1] == gen.calls[0][:-1]  # same system prompt; only the reminder was added
    assert run.scores["language_retries"] == 1
    assert run.warnings == []
    assert run.verified is not None
    assert run.verified.grounded
    assert [c.doc_id for c in run.verified.citations] == ["passport"]


def test_answer_in_the_question_language_streams_through_without_a_second_call(
    embedder: Any, detector: Any
) -> None:
    gen = ScriptedGenerator(ANSWER_TH)
    events, run = _answer(embedder, detector, gen)
    assert _shown(events) == ANSWER_TH
    assert len(gen.calls) == 1
    assert "language_retries" not in run.scores
    deltas = [d["text"] for e, d in events if e == "delta"]
    assert len(deltas) > 2  # the held prefix comes as one delta, the rest as the model sends it


def test_a_model_that_keeps_the_wrong_language_is_shown_with_a_warning(embedder: Any, detector: Any) -> None:
    gen = ScriptedGenerator(ANSWER_EN, ANSWER_EN)
    events, run = _answer(embedder, detector, gen)
    assert _shown(events) == ANSWER_EN
    assert len(gen.calls) == 2
    assert run.warnings == ["the answer is in English, not in the language of the question (Thai)"]


def test_answer_shorter_than_the_check_is_shown_as_it_is(embedder: Any, detector: Any) -> None:
    """A name or a number reads the same in any language: asking again would only risk a refusal."""
    gen = ScriptedGenerator("Assunpink Creek [1]", ANSWER_TH)
    events, run = _answer(embedder, detector, gen)
    assert _shown(events) == "Assunpink Creek [1]"
    assert len(gen.calls) == 1
    assert run.warnings == []


def test_question_of_undetermined_language_is_not_checked(embedder: Any, detector: Any) -> None:
    """A question the detector cannot place ("und") gives nothing to hold the answer to."""
    gen = ScriptedGenerator(ANSWER_EN)
    events, run = _answer(embedder, detector, gen, language="und")
    assert _shown(events) == ANSWER_EN
    assert len(gen.calls) == 1
    assert run.warnings == []


def test_check_off_streams_the_first_answer_as_it_comes(embedder: Any, detector: Any) -> None:
    gen = ScriptedGenerator(ANSWER_EN)
    events, run = _answer(embedder, detector, gen, check_chars=0)
    assert _shown(events) == ANSWER_EN
    assert len(gen.calls) == 1
    assert run.warnings == []  # nothing checked, nothing claimed


def test_language_helpers(detector: LanguageDetector) -> None:
    assert visible_text("Fee is 70 dollars [1][2]. Paid by card 【3】.").split() == [
        *["Fee", "is", "70", "dollars", ".", "Paid", "by", "card", "."]
    ]
    assert answer_language(detector, ANSWER_TH) == "th"
    assert answer_language(detector, "[1]") is None  # nothing to go on
    assert same_language("ms", "id")
    assert same_language("th", "th")
    assert not same_language("en", "tl")
    msgs = [{"role": "system", "content": "S"}, {"role": "user", "content": "Q"}]
    out = with_language_reminder(msgs, "my")
    assert out[1]["content"] == "Q\n\nWrite the whole answer in Burmese, the language of the question."
    assert msgs[1]["content"] == "Q"  # the prompt of the first attempt is left as it was
