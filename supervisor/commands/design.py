"""``mayor design "FEATURE"``: the first draft of a design document, written by the strong model.

Also the pieces ``mayor plan`` shares: where the command works (:class:`Workspace`), the short
repository context, and :class:`Chat`, a plain conversation (no tools) with a model through the
built-in agent's :class:`~supervisor.agents.builtin.anthropic_model.AnthropicModel` (its SDK client and
the shared rate limiter), whose usage and cost are summed and reported on stderr.
"""

from __future__ import annotations

import re
import tempfile
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

DESIGN_DIR = Path("docs") / "design"
"""Where design documents go by default, under the repository root."""
MAX_OUTPUT_TOKENS = 16_000
"""Room for a long document or plan; under the SDK's limit for a request without streaming."""
SLUG_CHARS = 60


@dataclass(frozen=True)
class Workspace:
    """Where a planning command works: the repository, and its ``.mayor`` folder if it has one."""

    root: Path
    mayor_dir: Path | None
    gate: str | None = None


def workspace() -> Workspace:
    """The mayor repository around here, or else the git repository (``mayor design`` needs no init)."""
    from supervisor.proc import git
    from supervisor.repo import open_repo

    try:
        repo = open_repo()
    except NotInitialized:
        top = git("rev-parse", "--show-toplevel", cwd=Path.cwd(), check=False)
        if not top:
            raise MayorError("not inside a git repository; run this in the repository the design is for") from None
        return Workspace(Path(top), None)
    return Workspace(repo.root, repo.mayor_dir, repo.config.gate)


def repository_context(ws: Workspace) -> str:
    """The file list and README on the current branch, as every agent of a run sees them."""
    from supervisor.agents.context import repo_context
    from supervisor.proc import git

    branch = git("rev-parse", "--abbrev-ref", "HEAD", cwd=ws.root, check=False)
    if not branch or not git("rev-parse", "--verify", "--quiet", "HEAD", cwd=ws.root, check=False):
        return "(the repository has no commit yet)"
    return repo_context(ws.root, branch, ws.gate)


def require_api_key(command: str) -> None:
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


def open_chat(ws: Workspace, model: str | None, scratch: Path) -> Chat:
    """A :class:`Chat` through the repository's shared limiter (or one in ``scratch`` without ``.mayor``)."""
    from supervisor.agents.builtin.anthropic_model import AnthropicModel
    from supervisor.agents.builtin.limiter import SharedLimiter

    folder = ws.mayor_dir / "state" / "limiter" if ws.mayor_dir else scratch / "limiter"
    return Chat(AnthropicModel(model or STRONG_MODEL, SharedLimiter(folder), max_output_tokens=MAX_OUTPUT_TOKENS))


def slug(text: str) -> str:
    """``Add OAuth login!`` -> ``add-oauth-login``: short, safe as a file name."""
    words = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    if len(words) > SLUG_CHARS:
        words = words[:SLUG_CHARS].rsplit("-", 1)[0]
    return words or "design"


def document_of(answer: str) -> str:
    """The model's answer as a document: without a fence around the whole of it."""
    text = answer.strip()
    fenced = re.fullmatch(r"```[\w-]*\n(.*)\n```", text, re.S)
    return (fenced.group(1).strip() if fenced else text) + "\n"


def output_path(ws: Workspace, feature: str, out: str | None, force: bool) -> Path:
    path = Path(out) if out else ws.root / DESIGN_DIR / f"{slug(feature)}.md"
    if path.exists() and not force:
        raise MayorError(f"{path} already exists; give another --out, or --force to overwrite it")
    return path


def run(*, feature: str, out: str | None = None, model: str | None = None, force: bool = False) -> int:
    if not feature.strip():
        raise MayorError('say what the feature is: mayor design "what it should do"')
    ws = workspace()
    path = output_path(ws, feature, out, force)
    require_api_key("design")
    from supervisor.prompts import render

    prompt = render("design", {"feature": feature.strip(), "context": repository_context(ws)}, ws.mayor_dir)
    with tempfile.TemporaryDirectory(prefix="mayor-design-") as scratch:
        chat = open_chat(ws, model, Path(scratch))
        try:
            answer = chat.ask(prompt)
        finally:
            chat.report()
    if not answer.strip():
        raise MayorError(f"{chat.model.name} gave an empty answer; nothing was written")
    if chat.stop_reason == "max_tokens":
        say(f"warning: the answer was cut at {MAX_OUTPUT_TOKENS} tokens; the document ends early")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(document_of(answer), encoding="utf-8")
    print(path)
    return 0
