"""``mayor review``: security-review beads, one per category, run in parallel; findings as SARIF.

The beads, the findings and the SARIF log are :mod:`supervisor.views.review`'s; this runs the beads
and prints the verdict.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from beads.errors import MayorError
from beads.models import SEVERITIES, Bead, Finding
from supervisor import __version__
from supervisor.output import say
from supervisor.repo import Repo, open_repo
from supervisor.views import review
from supervisor.views.review import REVIEW_BRANCH


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
    head = review.review_head(repo.root)
    scope = review.scope(repo.root, base, head)
    cats = list(dict.fromkeys(categories or review.DEFAULT_CATEGORIES))
    ids = review.make_beads(repo, cats, base, head, scope)
    code = _run_beads(repo, ids, agent, jobs or len(ids))
    rejected = review.settle(repo, ids, head)
    beads = [repo.store.get(i) for i in ids]
    findings = review.collect(beads)
    if sarif:
        finished = all(b.status == "done" for b in beads)
        review.write_sarif(
            Path(sarif), findings, __version__, cats, root=repo.root, rejected=rejected, successful=finished
        )
        say(f"wrote {len(findings)} finding(s) as SARIF 2.1.0 to {sarif}")
    return _verdict(beads, findings, rejected, fail_on, code)


def _run_beads(repo: Repo, ids: list[str], agent: str | None, jobs: int) -> int:
    from supervisor.run import sling
    from supervisor.run.context import Options

    options = Options.of(repo.config, jobs=jobs, target=REVIEW_BRANCH, gate="", agent=agent, only=ids, max_attempts=2)
    return sling(repo, options)


def _verdict(
    beads: list[Bead], findings: list[Finding], rejected: list[review.Rejected], fail_on: str, sling_code: int
) -> int:
    tally = review.counts(findings)
    say("findings: " + ", ".join(f"{n} {sev}" for sev, n in tally.items()))
    for finding in findings:
        where = f"{finding.file}:{finding.line}" if finding.line else finding.file
        say(f"  [{finding.severity}] {where} {finding.title} ({finding.category})")
    for item in rejected:
        say(f"  [rejected] {item.bead}: {item.describe()}")
    broken = [b for b in beads if b.status != "done"]
    for bead in broken:
        say(f"review {bead.id} did not finish ({bead.status}): {bead.error or 'see mayor show ' + bead.id}")
    done = len(beads) - len(broken)
    say(
        f"mayor review: {done} reviewed, {len(broken)} did not finish; {len(findings)} finding(s)"
        + (f", {len(rejected)} rejected (not in the SARIF: see above)" if rejected else "")
    )
    over = review.failing(findings, fail_on)
    if over:
        say(f"mayor review: findings at or above {fail_on}: failing")
    return 1 if over or broken or sling_code not in (0, 1) else 0
