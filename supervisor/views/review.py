"""Security review: one report-only bead per category, findings merged and written as SARIF 2.1.0.

Review beads are of kind ``review``: they end ``done`` and never reach the merge queue, so nothing
a review agent does can land. They work on :data:`REVIEW_BRANCH`, set to the commit under review
(:func:`review_head`); :func:`scope` says what to review (the whole tree, or what changed since a
base) and :func:`make_beads` writes one bead per category. Their findings come from each agent's
report (``result.json`` or its structured output), are validated as :class:`beads.models.Finding`,
de-duplicated across categories (same file, line and title: the most severe is kept), and ranked.
"""

from __future__ import annotations

import hashlib
import json
import posixpath
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import pydantic

from beads.errors import MayorError
from beads.models import SEVERITIES, Bead, Criterion, Finding

if TYPE_CHECKING:
    from supervisor.repo import Repo

DEFAULT_CATEGORIES = ("injection", "auth", "secrets", "dependencies", "insecure-defaults")
RANK = {name: index for index, name in enumerate(SEVERITIES)}
"""0 is the most severe."""
SARIF_LEVEL = {"critical": "error", "high": "error", "medium": "warning", "low": "note"}
SECURITY_SEVERITY = {"critical": "9.5", "high": "8.0", "medium": "5.5", "low": "2.0"}
SARIF_SCHEMA = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
SRCROOT = "%SRCROOT%"
"""The base of every artifact URI: the root of the reviewed repository (``run.originalUriBaseIds``)."""
DESCRIPTION_CHARS = 1024
"""GitHub code scanning reads at most this much of a rule's descriptions."""
MESSAGE_CHARS = 8000
TITLE_CHARS = 200
REVIEW_BRANCH = "mayor-review/head"
"""Review agents work on a checkout of the commit under review; nothing is ever landed on it."""
DIFF_CHARS = 40_000


def slug(text: str) -> str:
    """Lower-case ASCII words joined by ``-``; text with other characters gets a short hash of
    itself too, so ``sécurité`` and ``安全`` neither collide nor vanish."""
    base = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    if base and re.fullmatch(r"[A-Za-z0-9 _.-]+", text):
        return base
    digest = hashlib.sha256(text.encode()).hexdigest()[:8]
    return f"{base}-{digest}" if base else f"u-{digest}"


def review_id(category: str, scope: str) -> str:
    """One bead per category and reviewed commit (a re-run of the same review reuses it)."""
    return f"review-{slug(category)}-{hashlib.sha256(scope.encode()).hexdigest()[:6]}"


def at_or_above(severity: str, threshold: str) -> bool:
    return RANK[severity] <= RANK[threshold]


def failing(findings: Iterable[Finding], fail_on: str) -> bool:
    """Some finding is at or above ``fail_on`` (a severity, or ``none``: never)."""
    return fail_on != "none" and any(at_or_above(f.severity, fail_on) for f in findings)


def finding_key(finding: Finding) -> tuple[str, int | None, str]:
    """Two findings with the same key are one: same file, line and title (case and punctuation aside)."""
    return finding.file.removeprefix("./"), finding.line, re.sub(r"\W+", " ", finding.title.lower()).strip()


@dataclass
class Reported:
    """One finding after de-duplication, and the beads that reported it."""

    finding: Finding
    """The most severe of its copies (the first seen, among equals), tagged with its category."""
    bead: str
    """The bead whose copy was kept."""
    beads: list[str]
    """Every bead that reported it, sorted."""


def _merged(beads: Iterable[Bead]) -> list[Reported]:
    """Every finding of ``beads``, tagged with its category, de-duplicated, in the order first seen."""
    best: dict[tuple[str, int | None, str], Reported] = {}
    for bead in beads:
        category = str(bead.source.get("category") or bead.kind)
        for finding in bead.result.findings if bead.result else []:
            tagged = finding if finding.category else finding.model_copy(update={"category": category})
            key = finding_key(tagged)
            known = best.get(key)
            if known is None or RANK[tagged.severity] < RANK[known.finding.severity]:
                best[key] = Reported(tagged, bead.id, sorted({bead.id, *(known.beads if known else [])}))
            elif bead.id not in known.beads:
                known.beads = sorted({*known.beads, bead.id})
    return list(best.values())


def _rank(finding: Finding) -> tuple[int, str, int, str]:
    return RANK[finding.severity], finding.file, finding.line or 0, finding.title


def collect(beads: Iterable[Bead]) -> list[Finding]:
    """Every finding of the review beads, tagged with its category, de-duplicated, most severe first."""
    return [r.finding for r in sorted(_merged(beads), key=lambda r: _rank(r.finding))]


def reported(beads: Iterable[Bead]) -> list[Reported]:
    """The findings of :func:`collect` with the beads that reported each; ties broken by bead."""
    return sorted(_merged(beads), key=lambda r: (*_rank(r.finding), r.bead))


# -- vetting what the agents reported --------------------------------------------------------------

REJECTED_KEY = "rejected_findings"
"""Where a review bead keeps (in ``source``) the findings :func:`settle` rejected."""


@dataclass(frozen=True)
class Rejected:
    """A finding that cannot be shown where it points: reported, never written as a location."""

    bead: str
    file: str
    """As the agent gave it (cut)."""
    line: int | None
    title: str
    reason: str

    def describe(self) -> str:
        where = f"{self.file}:{self.line}" if self.line is not None else (self.file or "(no file)")
        return f"{where} {self.title or '(no title)'}: {self.reason}"


def normal_path(raw: str) -> str | None:
    """``raw`` as a clean relative POSIX path (``./a//b.py`` -> ``a/b.py``); None when it is empty,
    absolute, leaves the repository or holds control characters."""
    text = raw.strip()
    if not text or text.startswith("/") or re.match(r"[A-Za-z]:", text) or re.search(r"[\x00-\x1f\x7f]", text):
        return None
    clean = posixpath.normpath(text)
    if clean in (".", "..") or clean.startswith("../"):
        return None
    return clean


class Tree:
    """The files of one commit, and their line counts (each read once, when asked)."""

    def __init__(self, root: Path, commit: str) -> None:
        from supervisor.proc import git

        self.root, self.commit = root, commit
        listing = git("ls-tree", "-r", "-z", "--name-only", commit, cwd=root)
        self.files = frozenset(name for name in listing.split("\0") if name)
        self._lines: dict[str, int | None] = {}

    def lines(self, path: str) -> int | None:
        """How many lines ``path`` has at the commit; None for a binary or empty file."""
        from supervisor.proc import git

        if path not in self._lines:
            spec = f":(literal){path}"
            out = git("grep", "-z", "-I", "-c", "-e", "", self.commit, "--", spec, cwd=self.root, check=False)
            self._lines[path] = int(out.rsplit("\0", 1)[1]) if "\0" in out else None
        return self._lines[path]


def problem(finding: Finding, tree: Tree) -> str | None:
    """Why ``finding`` cannot be shown where it points; None when it can."""
    if not finding.title.strip():
        return "it has no title"
    if not finding.file.strip():
        return "it names no file"
    path = normal_path(finding.file)
    if path is None:
        return "its file is not a relative path inside the repository"
    if path not in tree.files:
        hint = " (use / between folders)" if "\\" in path else ""
        return f"{path} is not a file at the reviewed commit {tree.commit[:10]}{hint}"
    if finding.line is not None:
        if finding.line < 1:
            return f"line {finding.line}: lines start at 1"
        total = tree.lines(path)
        if total is not None and finding.line > total:
            return f"line {finding.line} is past the end of {path} ({total} lines)"
    return None


def _rejected(bead: str, raw: Mapping[str, Any], reason: str) -> Rejected:
    line = raw.get("line")
    return Rejected(
        bead,
        cap(str(raw.get("file") or ""), TITLE_CHARS),
        line if isinstance(line, int) and not isinstance(line, bool) else None,
        cap(" ".join(str(raw.get("title") or "").split()), TITLE_CHARS),
        reason,
    )


def vet(bead: str, findings: Iterable[Finding], tree: Tree) -> tuple[list[Finding], list[Rejected]]:
    """The findings that point at a line or file of ``tree`` (paths normalised), and the rest."""
    good: list[Finding] = []
    bad: list[Rejected] = []
    for finding in findings:
        reason = problem(finding, tree)
        if reason is None:
            good.append(finding.model_copy(update={"file": normal_path(finding.file)}))
        else:
            bad.append(_rejected(bead, finding.model_dump(), reason))
    return good, bad


def unreadable(bead: str, run_dir: Path) -> list[Rejected]:
    """What the agent wrote to ``result.json`` that is no :class:`Finding` at all (a severity
    ``bogus``, no title), and the findings the built-in agent noted as dropped."""
    try:
        data = json.loads((run_dir / "result.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    if not isinstance(data, dict):
        return []
    out = []
    raw = data.get("findings")
    for item in raw if isinstance(raw, list) else []:
        try:
            Finding.model_validate(item)
        except pydantic.ValidationError as exc:
            error = exc.errors()[0]
            field = ".".join(str(p) for p in error["loc"])
            reason = f"{field}: {error['msg']}" if field else str(error["msg"])
            out.append(_rejected(bead, item if isinstance(item, dict) else {}, reason))
    notes = data.get("problems")
    for note in notes if isinstance(notes, list) else []:
        if str(note).startswith("finding "):
            out.append(Rejected(bead, "", None, "", cap(str(note), MESSAGE_CHARS)))
    return out


def settle(repo: Repo, ids: Sequence[str], head: str) -> list[Rejected]:
    """Vet the findings of each finished review bead against ``head``: the bead keeps those that
    point somewhere (paths normalised) and records the rest in ``source``; every rejection."""
    tree = Tree(repo.root, head)
    rejected: list[Rejected] = []
    with repo.store.edit() as tx:
        for bead_id in ids:
            bead = tx.get(bead_id)
            if bead.status != "done" or bead.result is None:
                continue
            good, bad = vet(bead_id, bead.result.findings, tree)
            if bead.attempts:
                bad = unreadable(bead_id, repo.run_dir(bead_id, bead.attempts[-1].n)) + bad
            bead.result = bead.result.model_copy(update={"findings": good})
            bead.source = {**bead.source, REJECTED_KEY: [asdict(r) for r in bad]}
            tx.put(bead)
            rejected += bad
    return rejected


def rejections(beads: Iterable[Bead]) -> list[Rejected]:
    """The findings :func:`settle` rejected, as the beads recorded them."""
    out = []
    for bead in beads:
        recorded = bead.source.get(REJECTED_KEY)
        for item in recorded if isinstance(recorded, list) else []:
            if isinstance(item, dict):
                out.append(_rejected(bead.id, item, str(item.get("reason") or "rejected")))
    return out


# -- SARIF -----------------------------------------------------------------------------------------


def rule_id(category: str, severity: str) -> str:
    """``mayor/<category>/<severity>``: one rule per category and severity, so an alert keeps its
    rule however the model words the finding (the wording is in the result's message)."""
    return f"mayor/{slug(category)}/{severity}"


def cap(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters, with an ellipsis when cut."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


ABOUT_RESULTS = "Each result's message says what was found, where, and what to do."


def _rule(category: str, severity: str) -> dict[str, Any]:
    about = f"mayor review, category {category}: a finding of {severity} severity"
    return {
        "id": rule_id(category, severity),
        "name": f"{slug(category)}-{severity}",
        "shortDescription": {"text": cap(about, DESCRIPTION_CHARS)},
        "fullDescription": {
            "text": cap(
                f"{about}. Each result's message says what was found, where, and what to do.", DESCRIPTION_CHARS
            )
        },
        "help": {"text": cap(f"See the result's message and its recommendation ({category}).", DESCRIPTION_CHARS)},
        "defaultConfiguration": {"level": SARIF_LEVEL[severity]},
        "properties": {
            "security-severity": SECURITY_SEVERITY[severity],
            "tags": list(dict.fromkeys(["security", category])),
        },
    }


def artifact_uri(path: str) -> str:
    """A relative path as a URI reference: percent-encoded (``#``, ``%``, spaces, ``:``, non-ASCII),
    ``/`` kept, so ``decodeURIComponent`` gives the path back."""
    return quote(path, safe="/")


def fingerprint(finding: Finding) -> str:
    """Of the rule, the normalised path and the line; not of the model's wording."""
    category = finding.category or "review"
    key = f"{rule_id(category, finding.severity)}\0{normal_path(finding.file) or finding.file}\0{finding.line or 0}"
    return hashlib.sha256(key.encode()).hexdigest()[:32]


def _message(finding: Finding) -> str:
    text = finding.title.strip()
    if finding.description.strip():
        text += f"\n\n{finding.description.strip()}"
    if finding.recommendation.strip():
        text += f"\n\nRecommendation: {finding.recommendation.strip()}"
    return cap(text, MESSAGE_CHARS)


def _result(finding: Finding, index: int, occurrence: int) -> dict[str, Any]:
    category = finding.category or "review"
    artifact = {"uri": artifact_uri(normal_path(finding.file) or finding.file), "uriBaseId": SRCROOT}
    location: dict[str, Any] = {"artifactLocation": artifact}
    if finding.line:
        location["region"] = {"startLine": finding.line}
    print_ = fingerprint(finding) + (f":{occurrence}" if occurrence > 1 else "")
    return {
        "ruleId": rule_id(category, finding.severity),
        "ruleIndex": index,
        "level": SARIF_LEVEL[finding.severity],
        "message": {"text": _message(finding)},
        "locations": [{"physicalLocation": location}],
        "partialFingerprints": {"mayorFinding/v2": print_},
        "properties": {"severity": finding.severity, "category": category, "title": cap(finding.title, 200)},
    }


def _invocation(rejected: Sequence[Rejected], successful: bool) -> dict[str, Any]:
    """The run's one invocation; each rejected finding is a warning notification, never a result."""
    notes = [
        {
            "level": "warning",
            "descriptor": {"id": "mayor/rejected-finding"},
            "message": {"text": cap(f"finding rejected ({r.bead}): {r.describe()}", MESSAGE_CHARS)},
        }
        for r in rejected
    ]
    return {"executionSuccessful": successful, "toolExecutionNotifications": notes}


def sarif(
    findings: Iterable[Finding],
    version: str,
    categories: Iterable[str] = (),
    *,
    root: Path | None = None,
    rejected: Sequence[Rejected] = (),
    successful: bool = True,
) -> dict[str, Any]:
    """A SARIF 2.1.0 log of ``findings`` (one run, tool ``mayor``), as GitHub code scanning reads it.

    Paths are relative to ``%SRCROOT%`` (``root``, when given, as a ``file:`` URI); the findings
    should have passed :func:`vet`. Rejected findings are notifications of the invocation."""
    rules: list[dict[str, Any]] = []
    index: dict[str, int] = {}
    seen: dict[str, int] = {}
    results = []
    for finding in findings:
        category = finding.category or "review"
        rid = rule_id(category, finding.severity)
        if rid not in index:
            index[rid] = len(rules)
            rules.append(_rule(category, finding.severity))
        key = fingerprint(finding)
        seen[key] = seen.get(key, 0) + 1
        results.append(_result(finding, index[rid], seen[key]))
    driver = {
        "name": "mayor",
        "version": version,
        "informationUri": "https://github.com/mayor-dev/mayor",
        "rules": rules,
    }
    base: dict[str, Any] = {"description": {"text": "The root of the reviewed repository."}}
    if root is not None:
        base["uri"] = root.resolve().as_uri().rstrip("/") + "/"
    run = {
        "tool": {"driver": driver},
        "originalUriBaseIds": {SRCROOT: base},
        "invocations": [_invocation(rejected, successful)],
        "results": results,
        "columnKind": "unicodeCodePoints",
        "properties": {"categories": list(categories)},
    }
    return {"$schema": SARIF_SCHEMA, "version": "2.1.0", "runs": [run]}


def counts(findings: Iterable[Finding]) -> Mapping[str, int]:
    out = dict.fromkeys(SEVERITIES, 0)
    for finding in findings:
        out[finding.severity] += 1
    return out


def review_text(bead: Bead, shown: int = 10) -> str:
    """``mayor show`` of a review bead: what was reviewed, how it ended, its findings and rejections;
    not the prompt (``--json`` has it whole)."""
    source = bead.source
    lines = [
        f"{bead.id}  {bead.title}",
        f"status: {bead.status}   kind: {bead.kind}   category: {source.get('category') or '?'}",
        f"reviewed: {str(source.get('head') or '?')[:12]}" + (f" since {source['base']}" if source.get("base") else ""),
    ]
    lines += [f"attempt {a.n}: {a.outcome or 'running'}" + (f": {a.error}" if a.error else "") for a in bead.attempts]
    found = bead.result.findings if bead.result else []
    lines.append("findings: " + ", ".join(f"{n} {sev}" for sev, n in counts(found).items()))
    for finding in sorted(found, key=_rank)[:shown]:
        where = f"{finding.file}:{finding.line}" if finding.line else finding.file
        lines.append(f"  [{finding.severity}] {where} {finding.title}")
    if len(found) > shown:
        lines.append(f"  ... and {len(found) - shown} more")
    rejected = rejections([bead])
    if rejected:
        lines.append(f"rejected findings ({len(rejected)}), not in the SARIF:")
        lines += [f"  {r.describe()}" for r in rejected[:shown]]
    if bead.error:
        lines.append(f"error: {bead.error}")
    lines.append(f"(the prompt and every field: mayor show {bead.id} --json)")
    return "\n".join(lines)


# -- the review beads ------------------------------------------------------------------------------


def review_head(root: Path) -> str:
    """The commit under review (``HEAD``), with :data:`REVIEW_BRANCH` set to it."""
    from supervisor import gitops
    from supervisor.proc import git

    head = gitops.rev("HEAD", root)
    if head is None:
        raise MayorError("this repository has no commit to review yet")
    git("branch", "-f", REVIEW_BRANCH, head, cwd=root)
    return head


def scope(root: Path, base: str | None, head: str) -> str:
    """What to review: the whole tree, or the files and diff changed since ``base``."""
    from supervisor import gitops
    from supervisor.proc import git

    if base is None:
        return "the whole repository at this commit"
    if gitops.rev(base, root) is None:
        raise MayorError(f"--base {base!r} is not a commit here; fetch it first (e.g. git fetch origin {base})")
    files = git("diff", "--name-only", f"{base}...{head}", cwd=root)
    diff = git("diff", f"{base}...{head}", cwd=root)
    cut = f"\n[... diff cut at {DIFF_CHARS} characters ...]" if len(diff) > DIFF_CHARS else ""
    return (
        f"only what changed since {base}; review these files and the code they touch:\n"
        f"{files or '(no file changed)'}\n\n"
        f"```diff\n{diff[:DIFF_CHARS]}{cut}\n```"
    )


def make_beads(repo: Repo, categories: Sequence[str], base: str | None, head: str, scope: str) -> list[str]:
    """One review bead per category for ``base..head`` (written again if it exists); their ids."""
    from supervisor.prompts import render

    ids = []
    with repo.store.edit() as tx:
        for category in categories:
            bead_id = review_id(category, f"{base}..{head}")
            fields = {"category": category, "base": base or "(none: the whole repository)", "scope": scope}
            tx.put(
                Bead(
                    id=bead_id,
                    title=f"Security review: {category}",
                    kind="review",
                    description=render("review", fields, repo.mayor_dir),
                    labels=["security", f"review:{category}"],
                    acceptance=[Criterion(text="findings reported as structured records; no file changed")],
                    source={"category": category, "base": base, "head": head},
                )
            )
            ids.append(bead_id)
    return ids


def write_sarif(
    path: Path,
    findings: Sequence[Finding],
    version: str,
    categories: Iterable[str],
    *,
    root: Path | None = None,
    rejected: Sequence[Rejected] = (),
    successful: bool = True,
) -> None:
    """The :func:`sarif` log of ``findings``, as indented JSON, to ``path``."""
    log = sarif(findings, version, categories, root=root, rejected=rejected, successful=successful)
    path.write_text(json.dumps(log, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
