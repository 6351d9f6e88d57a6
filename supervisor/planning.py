"""From a feature to a design document, and from a design to beads, by the strong model.

:func:`draft_design` asks for the first draft of a design document. :func:`draft_plan` asks for a
plan: a JSON array in the format of ``mayor import`` (``key`` names a bead, ``deps`` name keys or
existing ids), validated exactly as an import is: the bead model, then the graph with the store (no
unknown dependency, no cycle). An answer that fails is sent back to the model with the error, up to
:data:`RETRIES` times; then :func:`draft_plan` fails and nothing is written. :func:`duplicates`
names the new beads whose titles look like those of existing beads; :func:`add_all` adds a plan.
"""

from __future__ import annotations

import difflib
import re
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from beads import importer
from beads.errors import ImportFormatError, MayorError
from beads.models import LANDED, Bead
from beads.store import Store
from supervisor.chat import Chat, RepoSite, conversation, repository_context
from supervisor.output import say

if TYPE_CHECKING:
    from supervisor.repo import Repo

DESIGN_DIR = Path("docs") / "design"
"""Where design documents go by default, under the repository root."""
SLUG_CHARS = 60


# -- the design ------------------------------------------------------------------------------------


def draft_design(site: RepoSite, feature: str, model: str | None) -> tuple[str, bool]:
    """The design document the model writes for ``feature``, and whether it was cut short (the
    answer reached :data:`~supervisor.chat.MAX_OUTPUT_TOKENS`)."""
    from supervisor.prompts import render

    prompt = render("design", {"feature": feature.strip(), "context": repository_context(site)}, site.mayor_dir)
    with conversation(site, model, "mayor-design-") as chat:
        answer = chat.ask(prompt)
    if not answer.strip():
        raise MayorError(f"{chat.model.name} gave an empty answer; nothing was written")
    return document_of(answer), chat.stop_reason == "max_tokens"


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


def output_path(site: RepoSite, feature: str, out: str | None, force: bool) -> Path:
    path = Path(out) if out else site.root / DESIGN_DIR / f"{slug(feature)}.md"
    if path.exists() and not force:
        raise MayorError(f"{path} already exists; give another --out, or --force to overwrite it")
    return path


# -- the plan --------------------------------------------------------------------------------------

RETRIES = 2
"""Follow-up requests after a bad answer, each carrying the validation error."""
DUPLICATE_RATIO = 0.85
"""Normalized titles at least this similar (difflib) are reported as likely duplicates."""
MAX_LISTED = 200
"""Existing beads named in the prompt, at most."""
_FENCE = re.compile(r"```[^\n]*\n(.*?)```", re.S)


class PlanError(MayorError):
    """An answer of the model that cannot be used as a plan; the message is meant for the model too."""


def extract_array(answer: str) -> str:
    """The JSON array in the answer: the last fenced block holding one, else from the first `[` to the last `]`."""
    blocks = [block.strip() for block in _FENCE.findall(answer)]
    arrays = [block for block in blocks if block.startswith("[")]
    if arrays:
        return arrays[-1]
    start, end = answer.find("["), answer.rfind("]")
    if start == -1:
        raise PlanError("the answer holds no JSON array; give the beads as one JSON array in a ```json block")
    return answer[start : end + 1] if end > start else answer[start:]  # cut off: the parser says where


def validate(answer: str, existing: Mapping[str, Bead], prefix: str) -> list[Bead]:
    """The beads of the answer, checked as ``mayor import`` checks a file; :class:`PlanError` if not."""
    text = extract_array(answer)
    with tempfile.TemporaryDirectory(prefix="mayor-plan-") as folder:
        path = Path(folder) / "plan.json"
        path.write_text(text, encoding="utf-8")
        try:
            beads = importer.read_mayor(path, existing, prefix).beads
        except ImportFormatError as exc:
            raise PlanError(_problem(exc, path)) from None
        except MayorError as exc:  # a cycle, named with the keys of its beads
            raise PlanError(str(exc)) from None
    if not beads:
        raise PlanError("the JSON array is empty; the plan needs at least one bead")
    return beads


def _problem(exc: ImportFormatError, path: Path) -> str:
    """The importer's message, for a JSON array that is no file: where in the array, and what."""
    text = str(exc).removesuffix("; nothing was imported")
    where = f"{path}:{exc.line}: " if exc.line is not None else f"{path}: "
    problem = text.removeprefix(where)
    return f"line {exc.line} of the JSON array: {problem}" if exc.line is not None else problem


def follow_up(error: str) -> str:
    return (
        f"Your answer cannot be used as a plan: {error}\n\n"
        "Answer again with the whole corrected plan: one JSON array of beads in a single ```json block, "
        "in the same format (each bead with its key; deps name keys of this array or ids of existing "
        "beads; no dependency cycle; no fields other than those of the format)."
    )


def ask_for_plan(chat: Chat, prompt: str, existing: Mapping[str, Bead], prefix: str) -> list[Bead]:
    """Ask, check, and send the error back up to :data:`RETRIES` times."""
    answer = chat.ask(prompt)
    for retry in range(RETRIES + 1):
        try:
            return validate(answer, existing, prefix)
        except PlanError as exc:
            if retry == RETRIES:
                raise MayorError(
                    f"{chat.model.name} gave no usable plan in {RETRIES + 1} answers; the last error: {exc}. "
                    "Nothing was added; try again, or with another --model"
                ) from None
            say(f"the answer is not a usable plan ({exc}); asking again ({retry + 1}/{RETRIES})")
            answer = chat.ask(follow_up(str(exc)))
    raise AssertionError("unreachable")


def existing_listing(beads: Mapping[str, Bead]) -> str:
    """The beads not landed nor cancelled, one a line, for the prompt."""
    live = [b for b in beads.values() if b.status not in LANDED and b.status != "cancelled"]
    live.sort(key=lambda b: (b.priority, b.created_at, b.id))
    lines = [f"- {b.id} [{b.status}] {b.title}" for b in live[:MAX_LISTED]]
    if len(live) > MAX_LISTED:
        lines.append(f"- ... and {len(live) - MAX_LISTED} more")
    return "\n".join(lines) or "(none)"


def normalized(title: str) -> str:
    return " ".join(re.sub(r"[^a-z0-9]+", " ", title.lower()).split())


def duplicates(new: Sequence[Bead], existing: Mapping[str, Bead]) -> list[tuple[Bead, Bead, float]]:
    """``(new bead, existing bead, similarity)`` for titles at least :data:`DUPLICATE_RATIO` alike."""
    titles = [(normalized(b.title), b) for b in existing.values()]
    found = []
    for bead in new:
        matcher = difflib.SequenceMatcher(autojunk=False)
        matcher.set_seq2(normalized(bead.title))
        for title, old in titles:
            matcher.set_seq1(title)
            if matcher.real_quick_ratio() >= DUPLICATE_RATIO and matcher.quick_ratio() >= DUPLICATE_RATIO:
                ratio = matcher.ratio()
                if ratio >= DUPLICATE_RATIO:
                    found.append((bead, old, ratio))
    return found


def draft_plan(repo: Repo, design: str, existing: Mapping[str, Bead], model: str | None) -> list[Bead]:
    """The beads the model cuts ``design`` into, checked against ``existing`` (nothing is written)."""
    from supervisor.prompts import render

    site = RepoSite.of(repo)
    fields = {"design": design, "context": repository_context(site), "existing": existing_listing(existing)}
    with conversation(site, model, "mayor-plan-") as chat:
        return ask_for_plan(chat, render("plan", fields, repo.mayor_dir), existing, repo.store.prefix)


def add_all(store: Store, beads: Sequence[Bead]) -> None:
    """Add the plan in one transaction; the store checks the graph again as it is now."""
    with store.edit() as tx:
        taken = [bead.id for bead in beads if bead.id in tx.beads]
        if taken:
            raise MayorError(f"bead(s) {', '.join(taken)} were added meanwhile by someone else; run mayor plan again")
        for bead in beads:
            tx.put(bead)
