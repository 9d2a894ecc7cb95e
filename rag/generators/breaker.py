"""A circuit breaker so a dead LLM server costs callers nothing instead of a timeout per question.

Closed: calls go through; `threshold` consecutive failed calls open it. Open: calls fail at once with
`GeneratorUnavailable` for `reset_s` seconds. Half-open: one trial call goes through (others still fail
fast); its success closes the breaker, its failure opens it again for another `reset_s`.
"""

from __future__ import annotations

import enum
import logging
import time
from collections.abc import Callable

from rag.generators.base import GeneratorUnavailable

logger = logging.getLogger(__name__)


class BreakerState(enum.Enum):
    """The three breaker states."""

    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class CircuitBreaker:
    """Counts consecutive failed calls; single event loop, so no lock is needed (no await inside)."""

    def __init__(
        self,
        threshold: int,
        reset_s: float,
        *,
        name: str = "generator",
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.threshold = threshold
        self.reset_s = reset_s
        self.name = name
        self._clock = clock
        self._failures = 0
        self._opened_at: float | None = None
        self._trial_running = False

    @property
    def state(self) -> BreakerState:
        """Current state (open turns half-open by itself once `reset_s` has passed)."""
        if self._opened_at is None:
            return BreakerState.CLOSED
        if self._clock() - self._opened_at >= self.reset_s:
            return BreakerState.HALF_OPEN
        return BreakerState.OPEN

    @property
    def consecutive_failures(self) -> int:
        """Failed calls since the last success."""
        return self._failures

    def before_call(self) -> bool:
        """Admit a call or raise `GeneratorUnavailable`; True when the call is the half-open trial."""
        state = self.state
        if state is BreakerState.CLOSED:
            return False
        if state is BreakerState.HALF_OPEN and not self._trial_running:
            self._trial_running = True
            logger.info("%s circuit half-open: letting one trial call through", self.name)
            return True
        assert self._opened_at is not None
        wait = max(0.0, self.reset_s - (self._clock() - self._opened_at))
        raise GeneratorUnavailable(
            f"{self.name} circuit breaker is open after {self._failures} consecutive failures; "
            f"not calling the server for another {wait:.0f} s (a trial call is let through then). "
            "Check that the LLM server is running and reachable.",
            kind="circuit_open",
        )

    def record_success(self) -> None:
        """The server answered: close the breaker and reset the failure count."""
        if self._opened_at is not None:
            logger.info("%s circuit closed: the server answers again", self.name)
        self._failures = 0
        self._opened_at = None
        self._trial_running = False

    def record_failure(self, *, open_now: bool = False) -> None:
        """A call failed: count it; open (or re-open, after a failed trial) at the threshold.

        `open_now` opens at once whatever the count (a timeout: the server hangs, and every further
        caller would wait as long).
        """
        self._failures += 1  # not reset on opening, so a failed trial re-opens at once
        self._trial_running = False
        if open_now:
            self._failures = max(self._failures, self.threshold)
        if self._failures >= self.threshold:
            self._opened_at = self._clock()
            logger.warning(
                "%s circuit open for %.1f s after %d consecutive failures",
                self.name,
                self.reset_s,
                self._failures,
            )

    def release_trial(self) -> None:
        """A call ended without a verdict (cancelled): let the next call be the trial instead."""
        self._trial_running = False
