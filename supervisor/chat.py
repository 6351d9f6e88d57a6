"""Asking the strong model outside a run: ``mayor design``, ``mayor plan`` and ``mayor summary --llm``.

:class:`RepoSite` is where such a command works (the repository, and its ``.mayor`` folder if it has
one); :func:`repository_context` is the short account of the repository every agent of a run sees;
:class:`Chat` is a plain conversation (no tools) with a model through the built-in agent's
:class:`~supervisor.agents.builtin.anthropic_model.AnthropicModel` (its SDK client and the shared
rate limiter), whose usage and cost are summed and reported on stderr. :func:`conversation` opens
one and reports it however it ends.

Nothing here imports ``anthropic`` or git at import time.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from beads.errors import MayorError
from beads.models import Usage
from supervisor.errors import NotInitialized
from supervisor.output import say
from supervisor.pricing import STRONG_MODEL, priced

if TYPE_CHECKING:
    from supervisor.agents.builtin.anthropic_model import AnthropicModel
    from supervisor.repo import Repo

MAX_OUTPUT_TOKENS = 16_000
"""Room for a long document or plan; under the SDK's limit for a request without streaming."""


@dataclass(frozen=True)
class RepoSite:
    """Where a command that asks a model works: the repository, and its ``.mayor`` folder if it has one.

    (Not :class:`supervisor.agents.builtin.tools.Workspace`, an agent's worktree and its tools.)
    """

    root: Path
    mayor_dir: Path | None
    """None in a git repository without ``mayor init`` (``mayor design`` needs none)."""
    gate: str | None = None
    """The configured gate, named in the repository context."""

    @classmethod
    def of(cls, repo: Repo) -> RepoSite:
        return cls(repo.root, repo.mayor_dir, repo.config.gate)


def find_site() -> RepoSite:
    """The mayor repository around here, or else the git repository (``mayor design`` needs no init)."""
    from supervisor.proc import git
    from supervisor.repo import open_repo

    try:
        repo = open_repo()
    except NotInitialized:
        top = git("rev-parse", "--show-toplevel", cwd=Path.cwd(), check=False)
        if not top:
            raise MayorError("not inside a git repository; run this in the repository the design is for") from None
        return RepoSite(Path(top), None)
    return RepoSite.of(repo)


def repository_context(site: RepoSite) -> str:
    """The file list and README on the current branch, as every agent of a run sees them."""
    from supervisor.agents.context import repo_context
    from supervisor.proc import git

    branch = git("rev-parse", "--abbrev-ref", "HEAD", cwd=site.root, check=False)
    if not branch or not git("rev-parse", "--verify", "--quiet", "HEAD", cwd=site.root, check=False):
        return "(the repository has no commit yet)"
    return repo_context(site.root, branch, site.gate)


def require_api_key(command: str) -> None:
    """Refuse ``mayor COMMAND`` before anything is asked (or written) when no API key is set."""
    from supervisor.agents import api_key_set

    if not api_key_set():
        raise MayorError(
            f"mayor {command} asks a Claude model and needs an API key: set ANTHROPIC_API_KEY "
            "(https://console.anthropic.com/settings/keys) and run it again"
        )


@dataclass
class Chat:
    """A conversation with one model, without tools; :meth:`ask` adds a turn and returns the answer."""

    model: AnthropicModel
    messages: list[dict[str, Any]] = field(default_factory=list)
    usage: Usage = field(default_factory=Usage)
    stop_reason: str | None = None
    """Of the last answer: ``max_tokens`` means it was cut off."""

    def ask(self, text: str) -> str:
        self.messages.append({"role": "user", "content": text})
        response = self._create()
        from supervisor.agents.builtin.anthropic_model import usage_of

        self.usage += priced(self.model.name, usage_of(response.usage))
        self.stop_reason = response.stop_reason
        answer = "".join(block.text for block in response.content if block.type == "text")
        self.messages.append({"role": "assistant", "content": answer or "(no answer)"})
        return answer

    def _create(self) -> Any:
        import anthropic

        try:
            with self.model.limiter.slot():
                return self.model.client.messages.create(
                    model=self.model.name,
                    max_tokens=self.model.max_output_tokens,
                    messages=self.messages,  # type: ignore[arg-type]
                )
        except anthropic.APIStatusError as exc:
            from supervisor.agents.builtin.loop import describe_failure

            raise MayorError(describe_failure(exc)) from None
        except anthropic.APIConnectionError as exc:
            raise MayorError(f"cannot reach the Anthropic API at {self.model.client.base_url}: {exc}") from None

    def report(self) -> None:
        """One line on stderr: the model, the tokens by kind and what they cost."""
        u = self.usage
        cost = "unpriced (unknown model)" if u.cost_usd is None else f"${u.cost_usd:.4f}"
        say(
            f"{self.model.name}: {u.input_tokens} input + {u.output_tokens} output tokens "
            f"(cache: {u.cache_read_input_tokens} read, {u.cache_creation_input_tokens} written), {cost}"
        )


def open_chat(site: RepoSite, model: str | None, scratch: Path) -> Chat:
    """A :class:`Chat` through the repository's shared limiter (or one in ``scratch`` without ``.mayor``)."""
    from supervisor.agents.builtin.anthropic_model import AnthropicModel
    from supervisor.agents.builtin.limiter import SharedLimiter

    folder = site.mayor_dir / "state" / "limiter" if site.mayor_dir else scratch / "limiter"
    return Chat(AnthropicModel(model or STRONG_MODEL, SharedLimiter(folder), max_output_tokens=MAX_OUTPUT_TOKENS))


@contextmanager
def conversation(site: RepoSite, model: str | None, prefix: str) -> Iterator[Chat]:
    """A :class:`Chat` for the length of the block (its scratch folder named ``prefix...``), whose
    spend is reported on stderr however the block ends."""
    with tempfile.TemporaryDirectory(prefix=prefix) as scratch:
        chat = open_chat(site, model, Path(scratch))
        try:
            yield chat
        finally:
            chat.report()
