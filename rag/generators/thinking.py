"""Removal of Qwen3-style `<think>...</think>` reasoning from answers, whole or streamed.

Even with thinking disabled a Qwen3 model may emit a (usually empty) think block; users must only see
the answer. The streaming filter holds back a tail that could be the start of a tag, so a tag split
across deltas (`"<th"`, `"ink>"`) never leaks.
"""

from __future__ import annotations

OPEN_TAG = "<think>"
CLOSE_TAG = "</think>"


def strip_think(text: str) -> str:
    """The visible answer in `text`: think blocks removed, surrounding whitespace trimmed.

    A `</think>` with no `<think>` before it means the opening tag was in the prompt (templates that
    prefill it), so everything up to it is reasoning. An unterminated `<think>` (generation cut by
    max_tokens) hides everything after it. Otherwise the result equals what `ThinkFilter` streams.
    """
    close = text.find(CLOSE_TAG)
    open_ = text.find(OPEN_TAG)
    if close >= 0 and (open_ < 0 or close < open_):
        text = text[close + len(CLOSE_TAG) :]
    think = ThinkFilter()
    return (think.feed(text) + think.flush()).strip()


def _partial_tag_len(text: str, tag: str) -> int:
    """Length of the longest suffix of `text` that is a proper prefix of `tag`."""
    for size in range(min(len(text), len(tag) - 1), 0, -1):
        if tag.startswith(text[-size:]):
            return size
    return 0


class ThinkFilter:
    """Stateful stream filter: `feed` each delta, then `flush` once; returns only visible text.

    Leading whitespace of the answer and whitespace right after a think block are dropped, matching
    `strip_think`. A stray `</think>` (no opening tag seen) is dropped; text already emitted before it
    cannot be recalled, unlike in `strip_think`.
    """

    def __init__(self) -> None:
        self._buffer = ""
        self._in_think = False
        self._skip_space = True

    def feed(self, delta: str) -> str:
        """Add one delta; return the text that is now known to be visible (may be empty)."""
        self._buffer += delta
        out: list[str] = []
        while True:
            if self._in_think:
                end = self._buffer.find(CLOSE_TAG)
                if end < 0:
                    keep = _partial_tag_len(self._buffer, CLOSE_TAG)
                    self._buffer = self._buffer[len(self._buffer) - keep :]
                    break
                self._buffer = self._buffer[end + len(CLOSE_TAG) :]
                self._in_think = False
                self._skip_space = True
                continue
            start = self._buffer.find(OPEN_TAG)
            stray = self._buffer.find(CLOSE_TAG)
            if stray >= 0 and (start < 0 or stray < start):
                out.append(self._visible(self._buffer[:stray]))
                self._buffer = self._buffer[stray + len(CLOSE_TAG) :]
                self._skip_space = True
                continue
            if start >= 0:
                out.append(self._visible(self._buffer[:start]))
                self._buffer = self._buffer[start + len(OPEN_TAG) :]
                self._in_think = True
                continue
            keep = max(_partial_tag_len(self._buffer, OPEN_TAG), _partial_tag_len(self._buffer, CLOSE_TAG))
            cut = len(self._buffer) - keep
            out.append(self._visible(self._buffer[:cut]))
            self._buffer = self._buffer[cut:]
            break
        return "".join(out)

    def flush(self) -> str:
        """End of stream: a held-back partial tag was real text; an unterminated think block is dropped."""
        rest, self._buffer = self._buffer, ""
        if self._in_think:
            return ""
        return self._visible(rest)

    def _visible(self, text: str) -> str:
        if self._skip_space:
            text = text.lstrip()
            if text:
                self._skip_space = False
        return text
