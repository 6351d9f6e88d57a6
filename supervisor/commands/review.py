"""``mayor review``: security-review beads, one per category, run in parallel; findings as SARIF."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from beads.errors import MayorError
from beads.models import SEVERITIES, Bead, Criterion
from supervisor import __version__, gitops
from supervisor.output import say
from supervisor.proc import git
from supervisor.repo import Repo, open_repo
from supervisor.views import review

REVIEW_BRANCH = "mayor-review/head"
"""Review agents work on a checkout of the commit under review; nothing is ever landed on it."""
DIFF_CHARS = 40_000


def run(
    *,
    categories: Sequence[str] = (),
    agent: str | None = None,
    sarif: str | None = None,
    fail_on: str = "high",
    base: str | None = None,
    jobs: int | None = None,
) -> int:
    if fail_on not in (*SEVERITIES, "none"):
        raise MayorError(f"--fail-on {fail_on!r}: use one of {', '.join(SEVERITIES)} or none")
    repo = open_repo()
    head = _head(repo.root)
    scope = _scope(repo.root, base, head)
    cats = list(dict.fromkeys(categories or review.DEFAULT_CATEGORIES))
    ids = _prepare_beads(repo, cats, base, head, scope)
    code = _run_beads(repo, ids, agent, jobs or len(ids))
    beads = [repo.store.get(i) for i in ids]
    findings = review.collect(beads)
    if sarif:
        Path(sarif).write_text(json.dumps(review.sarif(findings, __version__, cats), indent=2) + "\n")
        say(f"wrote {len(findings)} finding(s) as SARIF 2.1.0 to {sarif}")
    return _verdict(beads, findings, fail_on, code)


def _head(root: Path) -> str:
    head = gitops.rev("HEAD", root)
    if head is None:
        raise MayorError("this repository has no commit to review yet")
    git("branch", "-f", REVIEW_BRANCH, head, cwd=root)
    return head


def _scope(root: Path, base: str | None, head: str) -> str:
    """What to review: the whole tree, or the files and diff changed since ``base``."""
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


def _prepare_beads(repo: Repo, categories: list[str], base: str | None, head: str, scope: str) -> list[str]:
    from supervisor.prompts import render

    ids = []
    with repo.store.edit() as tx:
        for category in categories:
            bead_id = review.review_id(category, f"{base}..{head}")
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


def _run_beads(repo: Repo, ids: list[str], agent: str | None, jobs: int) -> int:
    from supervisor.run import sling
    from supervisor.run.context import Options

    options = Options.of(repo.config, jobs=jobs, target=REVIEW_BRANCH, gate="", agent=agent, only=ids, max_attempts=2)
    return sling(repo, options)


def _verdict(beads: list[Bead], findings: list, fail_on: str, sling_code: int) -> int:
    tally = review.counts(findings)
    say("findings: " + ", ".join(f"{n} {sev}" for sev, n in tally.items()))
    for finding in findings:
        where = f"{finding.file}:{finding.line}" if finding.line else finding.file
        say(f"  [{finding.severity}] {where} {finding.title} ({finding.category})")
    broken = [b for b in beads if b.status != "done"]
    for bead in broken:
        say(f"review {bead.id} did not finish ({bead.status}): {bead.error or 'see mayor show ' + bead.id}")
    over = fail_on != "none" and any(review.at_or_above(f.severity, fail_on) for f in findings)
    if over:
        say(f"mayor review: findings at or above {fail_on}: failing")
    return 1 if over or broken or sling_code not in (0, 1) else 0
