"""How the built-in agent's loop ends: typed exceptions, raised by the loop, caught by ``run_agent``.

    Exception
     └── AgentStop          the loop ended; ``message`` is its final message, ``ok`` whether the
          │                 attempt succeeded, ``error`` what result.json says (None when ok)
          ├── Finished      the model ended its turn with a final text (ok; the message is that text)
          ├── LimitReached  a limit, checked before a model call; ``limit`` names it:
          │                 steps, tokens, usd or seconds
          └── FormatErrors  too many malformed replies (cut off or empty) in a row
    BaseException
     └── Terminated         SIGTERM from the supervisor (a timeout, the budget, a cancel)

``Terminated`` is outside the ``AgentStop`` tree on purpose: it is raised by a signal handler
anywhere, including inside the SDK, which retries a call that raised an ``Exception``; a
``BaseException`` goes through. Any other exception is a failure of the agent (an API error
after retries, a bug) and is described by ``run_agent``.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from supervisor.pricing import usd

LimitName = Literal["steps", "tokens", "usd", "seconds"]


class AgentStop(Exception):
    """The loop ended, with ``message`` as its last word."""

    ok: ClassVar[bool] = False

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    @property
    def error(self) -> str | None:
        """The attempt's error as result.json records it: None when the agent finished."""
        return None if self.ok else self.message


class Finished(AgentStop):
    """The model ended its turn with a final text (the summary of the work)."""

    ok = True


class LimitReached(AgentStop):
    """A limit of the attempt was reached; ``used`` is what the attempt had used of it."""

    def __init__(self, limit: LimitName, used: float, maximum: float) -> None:
        self.limit: LimitName = limit
        self.used = used
        self.maximum = maximum
        super().__init__(self._describe())

    def _describe(self) -> str:
        used, maximum = self.used, self.maximum
        if self.limit == "steps":
            return f"step limit reached: {used} model calls (max_steps = {maximum})"
        if self.limit == "tokens":
            return f"token limit reached: {used} tokens (max {maximum})"
        if self.limit == "usd":
            return f"cost limit reached: {usd(used)} (max {usd(maximum)})"
        return f"time limit reached: {maximum:.0f}s"


class FormatErrors(AgentStop):
    """``count`` malformed replies in a row (cut off by max_tokens, or with no text and no tool call)."""

    def __init__(self, count: int) -> None:
        self.count = count
        super().__init__(f"{count} malformed replies in a row")


class Terminated(BaseException):
    """SIGTERM from the supervisor (a timeout, the budget, a cancel). Not an ``Exception``, so that
    nothing on the way swallows it (the SDK retries a call that raised one)."""
