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
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from beads.errors import MayorError
from beads.models import SEVERITIES, Bead, Criterion, Finding

if TYPE_CHECKING:
    from supervisor.repo import Repo

DEFAULT_CATEGORIES = ("injection", "auth", "secrets", "dependencies", "insecure-defaults")
RANK = {name: index for index, name in enumerate(SEVERITIES)}
"""0 is the most severe."""
SARIF_LEVEL = {"critical": "error", "high": "error", "medium": "warning", "low": "note"}
SECURITY_SEVERITY = {"critical": "9.5", "high": "8.0", "medium": "5.5", "low": "2.0"}
SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
REVIEW_BRANCH = "mayor-review/head"
"""Review agents work on a checkout of the commit under review; nothing is ever landed on it."""
DIFF_CHARS = 40_000


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "x"


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


def _rule(finding: Finding) -> dict[str, Any]:
    return {
        "id": rule_id(finding),
        "name": slug(finding.title),
        "shortDescription": {"text": finding.title},
        "fullDescription": {"text": finding.description or finding.title},
        "help": {"text": finding.recommendation or "See the description."},
        "properties": {
            "security-severity": SECURITY_SEVERITY[finding.severity],
            "tags": ["security", finding.category or "review"],
        },
    }


def rule_id(finding: Finding) -> str:
    return f"mayor/{slug(finding.category or 'review')}/{slug(finding.title)[:60]}"


def _result(finding: Finding, index: int) -> dict[str, Any]:
    region = {"startLine": finding.line} if finding.line and finding.line > 0 else {}
    location: dict[str, Any] = {"artifactLocation": {"uri": finding.file.removeprefix("./"), "uriBaseId": "%SRCROOT%"}}
    if region:
        location["region"] = region
    text = finding.description or finding.title
    if finding.recommendation:
        text += f"\n\nRecommendation: {finding.recommendation}"
    digest = hashlib.sha256(f"{finding.file}:{finding.line}:{finding.title}".encode()).hexdigest()[:32]
    return {
        "ruleId": rule_id(finding),
        "ruleIndex": index,
        "level": SARIF_LEVEL[finding.severity],
        "message": {"text": text},
        "locations": [{"physicalLocation": location}],
        "partialFingerprints": {"mayorFinding/v1": digest},
        "properties": {"severity": finding.severity, "category": finding.category},
    }


def sarif(findings: Iterable[Finding], version: str, categories: Iterable[str] = ()) -> dict[str, Any]:
    """A SARIF 2.1.0 log of ``findings`` (one run, tool ``mayor``), as GitHub code scanning reads it."""
    rules: list[dict[str, Any]] = []
    index: dict[str, int] = {}
    results = []
    for finding in findings:
        rid = rule_id(finding)
        if rid not in index:
            index[rid] = len(rules)
            rules.append(_rule(finding))
        results.append(_result(finding, index[rid]))
    driver = {
        "name": "mayor",
        "version": version,
        "informationUri": "https://github.com/mayor-dev/mayor",
        "rules": rules,
    }
    run = {"tool": {"driver": driver}, "results": results, "properties": {"categories": list(categories)}}
    return {"$schema": SARIF_SCHEMA, "version": "2.1.0", "runs": [run]}


def counts(findings: Iterable[Finding]) -> Mapping[str, int]:
    out = dict.fromkeys(SEVERITIES, 0)
    for finding in findings:
        out[finding.severity] += 1
    return out


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


def write_sarif(path: Path, findings: Sequence[Finding], version: str, categories: Iterable[str]) -> None:
    """The :func:`sarif` log of ``findings``, as indented JSON, to ``path``."""
    path.write_text(json.dumps(sarif(findings, version, categories), indent=2) + "\n")
