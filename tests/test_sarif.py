"""The SARIF of ``mayor review``, validated against the official SARIF 2.1.0 schema (the shared copy)
and against what GitHub's upload-sarif does with it: URIs decoded with ``decodeURIComponent`` and
resolved under the checkout, unique rule tags, ``security-severity`` per rule, capped texts.

Findings are vetted against the reviewed commit in a real git repository: a finding that points
nowhere is reported and kept out of the log, never written as a broken location.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest

from beads.models import Bead, Finding, Result
from supervisor.views import review
from tests.conftest import SHARED
from tests.sling_helpers import configure, git, mayor, script

SCHEMA = SHARED / "fixtures" / "sarif" / "sarif-schema-2.1.0.json"
URI_REFERENCE = re.compile(r"^(?:[A-Za-z0-9\-._~!$&'()*+,;=:@/?]|%[0-9A-Fa-f]{2})*$")
"""The characters RFC 3986 allows in a URI reference (``#`` only as the fragment's start: never here)."""
FILES = {
    "app.py": "import os\nPASSWORD = 'hunter2'\nprint(PASSWORD)\n",
    "src/a#b.py": "x = 1\ny = 2\n",
    "src/100%.py": "eval(input())\n",
    "docs/naïve café.py": "pass\n",
    "CHANGELOG.md": "# changes\n",
}


@pytest.fixture
def schema() -> dict[str, Any]:
    if not SCHEMA.is_file():
        pytest.skip(f"../shared is absent: no official SARIF 2.1.0 schema at {SCHEMA}")
    data: dict[str, Any] = json.loads(SCHEMA.read_text(encoding="utf-8"))
    return data


def check(log: dict[str, Any], schema: dict[str, Any], root: Path | None = None) -> None:
    """Valid against the official schema (formats included), and as upload-sarif reads it."""
    import jsonschema

    validator = jsonschema.Draft4Validator(schema, format_checker=jsonschema.FormatChecker())
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(log)]
    assert errors == []
    json.dumps(log, allow_nan=False)
    for run in log["runs"]:
        assert run["originalUriBaseIds"][review.SRCROOT]
        rules = run["tool"]["driver"]["rules"]
        assert len({r["id"] for r in rules}) == len(rules)
        for rule in rules:
            tags = rule["properties"]["tags"]
            assert len(tags) == len(set(tags)) <= 20
            assert len(rule["shortDescription"]["text"]) <= 1024 and len(rule["fullDescription"]["text"]) <= 1024
        for result in run["results"]:
            rule = rules[result["ruleIndex"]]
            assert rule["id"] == result["ruleId"]
            assert result["level"] == rule["defaultConfiguration"]["level"]
            assert rule["properties"]["security-severity"] == review.SECURITY_SEVERITY[result["properties"]["severity"]]
            [location] = result["locations"]
            artifact = location["physicalLocation"]["artifactLocation"]
            assert artifact["uriBaseId"] == review.SRCROOT
            uri = artifact["uri"]
            assert URI_REFERENCE.match(uri), uri
            path = unquote(uri)  # decodeURIComponent
            assert not path.startswith("/") and "://" not in path and ".." not in path.split("/")
            if root is not None:
                assert (root / path).is_file(), path
            assert location["physicalLocation"].get("region", {"startLine": 1})["startLine"] >= 1


def finding(file: str, title: str = "A thing", severity: str = "high", **more: Any) -> Finding:
    return Finding(file=file, title=title, severity=severity, **more)  # type: ignore[arg-type]


@pytest.fixture
def tree(git_repo: Path) -> review.Tree:
    for name, text in FILES.items():
        (git_repo / name).parent.mkdir(parents=True, exist_ok=True)
        (git_repo / name).write_text(text, encoding="utf-8")
    git(git_repo, "add", "-A")
    git(git_repo, "commit", "-q", "-m", "files")
    return review.Tree(git_repo, git(git_repo, "rev-parse", "HEAD"))


def test_awkward_file_names_are_percent_encoded_and_decode_back(tree: review.Tree, schema: dict[str, Any]) -> None:
    found = [
        finding("src/a#b.py", line=2),
        finding("src/100%.py", line=1),
        finding("docs/naïve café.py"),
        finding("./app.py", line=2, category="security"),
    ]
    good, bad = review.vet("r", found, tree)
    assert bad == []
    log = review.sarif(
        [f.model_copy(update={"category": f.category or "injection"}) for f in good], "1.0", root=tree.root
    )
    check(log, schema, tree.root)
    uris = [r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for r in log["runs"][0]["results"]]
    assert uris == ["src/a%23b.py", "src/100%25.py", "docs/na%C3%AFve%20caf%C3%A9.py", "app.py"]
    assert log["runs"][0]["originalUriBaseIds"][review.SRCROOT]["uri"] == tree.root.resolve().as_uri() + "/"
    tags = {r["id"]: r["properties"]["tags"] for r in log["runs"][0]["tool"]["driver"]["rules"]}
    assert tags["mayor/security/high"] == ["security"]  # unique, never ["security", "security"]


@pytest.mark.parametrize(
    ("file", "line", "title", "reason"),
    [
        ("", None, "t", "names no file"),
        ("/etc/passwd", None, "t", "not a relative path inside the repository"),
        ("../x.py", None, "t", "not a relative path inside the repository"),
        ("src/../../x.py", None, "t", "not a relative path inside the repository"),
        ("C:/app.py", None, "t", "not a relative path inside the repository"),
        ("src\\a#b.py", None, "t", "(use / between folders)"),
        ("missing.py", 1, "t", "missing.py is not a file at the reviewed commit"),
        ("app.py", 0, "t", "line 0: lines start at 1"),
        ("app.py", -3, "t", "line -3: lines start at 1"),
        ("app.py", 4, "t", "line 4 is past the end of app.py (3 lines)"),
        ("app.py", 1, "   ", "it has no title"),
    ],
)
def test_a_finding_that_points_nowhere_is_rejected_with_its_reason(
    tree: review.Tree, file: str, line: int | None, title: str, reason: str
) -> None:
    good, [bad] = review.vet("review-x", [finding(file, title, line=line)], tree)
    assert good == [] and reason in bad.reason and bad.bead == "review-x"
    log = review.sarif(good, "1.0", rejected=[bad])
    assert log["runs"][0]["results"] == []
    [note] = log["runs"][0]["invocations"][0]["toolExecutionNotifications"]
    assert reason in note["message"]["text"]


def test_rule_ids_do_not_depend_on_the_wording(tree: review.Tree, schema: dict[str, Any]) -> None:
    first = finding("app.py", "Hard-coded password", line=2, category="secrets")
    reworded = finding("./app.py", "A password is written in the source", line=2, category="secrets")
    a, b = review.sarif([first], "1"), review.sarif([reworded], "1")
    [ra], [rb] = a["runs"][0]["results"], b["runs"][0]["results"]
    assert ra["ruleId"] == rb["ruleId"] == "mayor/secrets/high"
    assert ra["partialFingerprints"] == rb["partialFingerprints"]  # ./app.py and app.py are one file
    assert "Hard-coded password" in ra["message"]["text"] and "written in the source" in rb["message"]["text"]
    # titles that a cut at 60 characters or a Latin-only slug used to merge stay apart, in the message
    long = [finding("app.py", "x" * 70 + suffix, line=1, category="secrets") for suffix in ("a", "b")]
    results = review.sarif(long, "1")["runs"][0]["results"]
    assert [r["message"]["text"].split("\n")[0][-1] for r in results] == ["a", "b"]
    assert results[0]["partialFingerprints"] != results[1]["partialFingerprints"]
    assert review.slug("安全") != review.slug("認証") and review.slug("安全").startswith("u-")
    assert review.slug("sécurité") != review.slug("s-curit") and review.slug("Auth") == "auth"
    check(review.sarif([first, reworded, *long], "1"), schema)


def test_severity_is_per_rule_and_matches_every_result(schema: dict[str, Any]) -> None:
    found = [
        finding("app.py", "Critical one", "critical", line=1, category="injection"),
        finding("app.py", "Low one", "low", line=2, category="injection"),
    ]
    log = review.sarif(found, "1")
    check(log, schema)
    rules = {r["id"]: r for r in log["runs"][0]["tool"]["driver"]["rules"]}
    assert rules["mayor/injection/critical"]["properties"]["security-severity"] == "9.5"
    assert rules["mayor/injection/low"]["properties"]["security-severity"] == "2.0"
    assert [r["level"] for r in log["runs"][0]["results"]] == ["error", "note"]


def test_long_texts_are_capped(schema: dict[str, Any]) -> None:
    big = finding("app.py", "T" * 5000, description="d" * 50_000, recommendation="r" * 50_000, category="c" * 2000)
    log = review.sarif([big], "1")
    check(log, schema)
    [result] = log["runs"][0]["results"]
    assert len(result["message"]["text"]) <= review.MESSAGE_CHARS and result["message"]["text"].endswith("…")
    assert len(result["properties"]["title"]) <= 200


def test_an_empty_review_is_valid_sarif(schema: dict[str, Any]) -> None:
    check(review.sarif([], "0.1", ["secrets"], successful=False), schema)


def test_rejections_are_recorded_on_the_bead_and_read_back() -> None:
    bad = review.Rejected("r-1", "/etc/passwd", 3, "Oops", "not inside")
    bead = Bead(id="r-1", title="r", kind="review", result=Result(), source={review.REJECTED_KEY: [bad.__dict__]})
    assert review.rejections([bead]) == [bad]


# -- end to end: mayor review writes it ------------------------------------------------------------

REVIEWER = """
python3 - <<'PY'
import json, os
found = [
    {"file": "./app.py", "line": 2, "severity": "high", "title": "Hard-coded password", "category": "security"},
    {"file": "src/a#b.py", "line": 1, "severity": "medium", "title": "Odd name"},
    {"file": "src/100%.py", "line": 1, "severity": "critical", "title": "eval of input"},
    {"file": "", "severity": "low", "title": "nowhere"},
    {"file": "/etc/passwd", "severity": "low", "title": "absolute"},
    {"file": "../x.py", "severity": "low", "title": "outside"},
    {"file": "app.py", "line": 0, "severity": "low", "title": "line zero"},
    {"file": "gone.py", "line": 1, "severity": "high", "title": "not there"},
    {"file": "app.py", "severity": "bogus", "title": "a made-up severity"},
]
json.dump({"summary": "reviewed", "findings": found}, open(os.environ["MAYOR_RUN_DIR"] + "/result.json", "w"))
PY
"""


def test_mayor_review_writes_valid_sarif_and_reports_every_rejected_finding(
    tree: review.Tree, schema: dict[str, Any], tmp_path: Path
) -> None:
    root = tree.root
    assert mayor(root, "init").returncode == 0
    configure(root, {"reviewer": script(tmp_path / "reviewer.sh", REVIEWER)})
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "config")
    out = mayor(root, "review", "--category", "secrets", "--sarif", "out.sarif", "--fail-on", "none")
    assert out.returncode == 0, out.stderr
    log = json.loads((root / "out.sarif").read_text(encoding="utf-8"))
    check(log, schema, root)
    run = log["runs"][0]
    rules = sorted(r["ruleId"] for r in run["results"])
    assert rules == ["mayor/secrets/critical", "mayor/secrets/medium", "mayor/security/high"]
    notes = [n["message"]["text"] for n in run["invocations"][0]["toolExecutionNotifications"]]
    assert len(notes) == 6
    for word in ("names no file", "/etc/passwd", "../x.py", "line 0", "gone.py is not a file", "severity"):
        assert any(word in n for n in notes), word
        assert word in out.stderr, word
    assert "1 reviewed, 0 did not finish; 3 finding(s), 6 rejected" in out.stderr
    facts = json.loads(mayor(root, "summary", "--format", "json").stdout)
    assert len(facts["findings"]["rejected"]) == 6 and facts["counts"]["findings"] == 3
    assert {r["title"] for r in facts["findings"]["rejected"]} >= {"outside", "a made-up severity", "line zero"}
    md = mayor(root, "summary").stdout
    assert "### Rejected findings (6)" in md and "`../x.py`" in md
