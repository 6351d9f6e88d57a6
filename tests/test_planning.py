"""The prompt pack, ``mayor design`` and ``mayor plan``, against the local fake Messages API.

The real SDK talks to :class:`tests.fake_anthropic.FakeAnthropic` through ``ANTHROPIC_BASE_URL``;
the bead store and git are real.
"""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Iterator, Sequence
from fnmatch import fnmatch
from importlib import resources
from pathlib import Path
from string import Template
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from beads.models import Bead, Criterion
from supervisor import planning
from supervisor.cli import app
from supervisor.pricing import STRONG_MODEL
from supervisor.prompts import bead_fields, render, template_text
from supervisor.repo import open_repo
from tests.fake_anthropic import Call, FakeAnthropic, final

TEMPLATES = ("design", "review", "plan", "summary", "execute", "report")
ROOT = Path(__file__).resolve().parents[1]
DESIGN_DOC = "# Login\n\nUsers log in with a password; sessions expire after an hour.\n"


def invoke(*args: str) -> Result:
    return CliRunner().invoke(app, list(args))


def plan_json(beads: Sequence[dict[str, Any]]) -> str:
    return "Here is the plan.\n\n```json\n" + json.dumps(list(beads), indent=2) + "\n```\n"


def bead(key: str, title: str, deps: Sequence[str] = (), **extra: Any) -> dict[str, Any]:
    record = {
        "key": key,
        "title": title,
        "description": f"Do {title.lower()}.",
        "acceptance": [{"text": f"{key} works", "check": f"pytest -q tests/test_{key}.py"}],
        "deps": list(deps),
        "priority": 1,
        "labels": ["login"],
        "estimate_minutes": 30,
        "kind": "task",
    }
    return {**record, **extra}


GOOD = [
    bead("model", "Add the user model"),
    bead("hashing", "Hash passwords with scrypt"),
    bead("login", "Add the login endpoint", deps=["model", "hashing"]),
]
CYCLE = [bead("a", "First step", deps=["b"]), bead("b", "Second step", deps=["a"])]


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeAnthropic]:
    """The fake API, reached by the real SDK; its ``default`` script is set by each test."""
    with FakeAnthropic() as server:
        for name, value in server.env().items():
            monkeypatch.setenv(name, value)
        yield server


@pytest.fixture
def design_file(mayor_repo: Path) -> Path:
    path = mayor_repo / "login.md"
    path.write_text(DESIGN_DOC)
    return path


def user_texts(call: Call) -> list[str]:
    """The text of every user message of a request, in order."""
    out = []
    for message in call.body["messages"]:
        if message["role"] == "user":
            content = message["content"]
            out.append(content if isinstance(content, str) else "".join(b.get("text", "") for b in content))
    return out


def stored(repo: Path) -> dict[str, Bead]:
    return open_repo(repo).store.load()


# -- mayor design ---------------------------------------------------------------------------------


def test_design_writes_the_models_text(mayor_repo: Path, fake: FakeAnthropic) -> None:
    doc = "# Result cache\n\n## Context\nThe runner recomputes everything.\n"
    fake.default = [final(doc)]
    result = invoke("design", "Cache the results!")
    assert result.exit_code == 0, result.output
    path = Path(result.stdout.strip())
    assert path == mayor_repo / "docs" / "design" / "cache-the-results.md"
    assert path.read_text() == doc
    [call] = fake.calls
    assert call.body["model"] == STRONG_MODEL
    [prompt] = user_texts(call)
    assert "Cache the results!" in prompt and "# test repo" in prompt and "README.md" in prompt
    assert "Rollout" in prompt and "$" not in prompt.replace("$$", "")
    assert re.search(rf"{STRONG_MODEL}: \d+ input \+ \d+ output tokens .*\$\d+\.\d{{4}}", result.stderr)


def test_design_refuses_to_overwrite_unless_forced(mayor_repo: Path, fake: FakeAnthropic) -> None:
    fake.default = [final("# New draft\n")]
    target = mayor_repo / "notes" / "d.md"
    target.parent.mkdir()
    target.write_text("mine\n")
    result = invoke("design", "Anything", "--out", str(target))
    assert result.exit_code == 1
    assert "already exists" in result.stderr and "--force" in result.stderr
    assert target.read_text() == "mine\n" and fake.calls == []  # no money spent
    result = invoke("design", "Anything", "--out", str(target), "--force", "--model", "claude-haiku-4-5")
    assert result.exit_code == 0, result.output
    assert target.read_text() == "# New draft\n"
    assert fake.calls[0].body["model"] == "claude-haiku-4-5"


def test_design_works_before_mayor_init(git_repo: Path, fake: FakeAnthropic) -> None:
    fake.default = [final("```markdown\n# Draft\n\nText.\n```")]
    result = invoke("design", "A feature")
    assert result.exit_code == 0, result.output
    assert (git_repo / "docs" / "design" / "a-feature.md").read_text() == "# Draft\n\nText.\n"


@pytest.mark.parametrize("args", [("design", "A feature"), ("plan", "login.md")])
def test_no_api_key_is_a_clear_error(design_file: Path, args: tuple[str, ...]) -> None:
    result = invoke(*args)
    assert result.exit_code == 1
    assert "ANTHROPIC_API_KEY" in result.stderr
    assert not (design_file.parent / "docs").exists() and stored(design_file.parent) == {}


# -- mayor plan -----------------------------------------------------------------------------------


def test_plan_adds_beads_with_deps_resolved_by_key(design_file: Path, fake: FakeAnthropic) -> None:
    fake.default = [final(plan_json(GOOD))]
    result = invoke("plan", "login.md")
    assert result.exit_code == 0, result.output
    ids = result.stdout.split()
    beads = stored(design_file.parent)
    assert sorted(beads) == sorted(ids) and len(ids) == 3
    by_title = {b.title: b for b in beads.values()}
    login = by_title["Add the login endpoint"]
    assert sorted(login.deps) == sorted([by_title["Add the user model"].id, by_title["Hash passwords with scrypt"].id])
    assert login.acceptance == [Criterion(text="login works", check="pytest -q tests/test_login.py")]
    assert (login.priority, login.labels, login.estimate_minutes, login.status) == (1, ["login"], 30, "open")
    [call] = fake.calls
    [prompt] = user_texts(call)
    assert DESIGN_DOC.strip() in prompt and "README.md" in prompt and "(none)" in prompt


def test_plan_dry_run_writes_nothing(design_file: Path, fake: FakeAnthropic) -> None:
    fake.default = [final(plan_json(GOOD))]
    before = sorted(p.name for p in (design_file.parent / ".mayor").rglob("*") if "state" not in p.parts)
    result = invoke("plan", "login.md", "--dry-run")
    assert result.exit_code == 0, result.output
    printed = [Bead.model_validate(b) for b in json.loads(result.stdout)]
    assert [b.title for b in printed] == [b["title"] for b in GOOD]
    assert set(printed[2].deps) == {printed[0].id, printed[1].id}
    after = sorted(p.name for p in (design_file.parent / ".mayor").rglob("*") if "state" not in p.parts)
    assert after == before and stored(design_file.parent) == {}


def test_a_cycle_is_sent_back_with_the_error_then_fixed(design_file: Path, fake: FakeAnthropic) -> None:
    fake.default = [final(plan_json(CYCLE)), final(plan_json(GOOD))]
    result = invoke("plan", "login.md")
    assert result.exit_code == 0, result.output
    assert len(fake.calls) == 2 and len(stored(design_file.parent)) == 3
    first, second = fake.calls
    prompts = user_texts(second)
    assert prompts[0] == user_texts(first)[0]  # the same conversation, continued
    assert second.body["messages"][1]["role"] == "assistant"
    assert "dependency cycle" in prompts[1] and "(key a)" in prompts[1] and "(key b)" in prompts[1]
    assert "dependency cycle" in result.stderr


def test_bad_answers_exhaust_the_retries_and_change_nothing(design_file: Path, fake: FakeAnthropic) -> None:
    unknown_dep = [bead("a", "First step", deps=["nowhere"])]
    bad_field = [bead("a", "First step", owner="me")]
    cut_off = final('Sorry, here it is: [{"key": "a", ')
    fake.default = [cut_off, final(plan_json(unknown_dep)), final(plan_json(bad_field))]
    existing = invoke("add", "Keep me").stdout.strip()
    result = invoke("plan", "login.md")
    assert result.exit_code == 1
    assert len(fake.calls) == planning.RETRIES + 1 == 3
    follow_ups = user_texts(fake.calls[-1])[1:]
    assert "bad JSON" in follow_ups[0]
    assert "'nowhere' names no key or id" in follow_ups[1]
    last = result.stderr.strip().splitlines()[-1]
    assert "no usable plan in 3 answers" in last and "owner" in last and "Nothing was added" in last
    assert list(stored(design_file.parent)) == [existing]


def test_two_bad_answers_then_a_good_one_is_the_last_chance(design_file: Path, fake: FakeAnthropic) -> None:
    fake.default = [final("no JSON here"), final(plan_json(CYCLE)), final(plan_json(GOOD))]
    result = invoke("plan", "login.md")
    assert result.exit_code == 0, result.output
    assert len(fake.calls) == 3 and len(stored(design_file.parent)) == 3
    assert "holds no JSON array" in user_texts(fake.calls[1])[1]


def test_duplicates_of_existing_beads_are_named(design_file: Path, fake: FakeAnthropic) -> None:
    old = invoke("add", "Add the user model.").stdout.strip()
    other = invoke("add", "Write the release notes").stdout.strip()
    fake.default = [final(plan_json(GOOD))]
    result = invoke("plan", "login.md", "--yes")
    assert result.exit_code == 0, result.output
    new = {b.title: b.id for b in stored(design_file.parent).values()}["Add the user model"]
    warnings = [line for line in result.stderr.splitlines() if "duplicate" in line]
    assert len(warnings) == 1 and new in warnings[0] and old in warnings[0] and other not in warnings[0]
    [prompt] = user_texts(fake.calls[0])
    assert f"- {old} [open] Add the user model." in prompt


def test_extract_array_prefers_the_fenced_block() -> None:
    answer = 'Think [a] first.\n```json\n[{"title": "x"}]\n```\nDone [b].'
    assert planning.extract_array(answer) == '[{"title": "x"}]'
    assert planning.extract_array('Plan: [{"title": "x"}] ok') == '[{"title": "x"}]'
    with pytest.raises(planning.PlanError):
        planning.extract_array("no array")


def test_an_empty_plan_is_refused() -> None:
    with pytest.raises(planning.PlanError, match="empty"):
        planning.validate("```json\n[]\n```", {}, "mr")


# -- the prompt pack ------------------------------------------------------------------------------


def test_a_user_override_in_dot_mayor_prompts_wins(design_file: Path, fake: FakeAnthropic) -> None:
    prompts = design_file.parent / ".mayor" / "prompts"
    prompts.mkdir()
    (prompts / "plan.md").write_text("OUR OWN PLANNER. Cut this: $design\nExisting: $existing\n")
    (prompts / "design.md").write_text("OUR OWN DESIGNER for $feature\n")
    fake.default = [final(plan_json(GOOD))]
    assert invoke("plan", "login.md", "--dry-run").exit_code == 0
    assert invoke("design", "Dark mode").exit_code == 0
    plan_prompt, design_prompt = (user_texts(call)[0] for call in fake.calls)
    assert plan_prompt == f"OUR OWN PLANNER. Cut this: {DESIGN_DOC}\nExisting: (none)\n"
    assert design_prompt == "OUR OWN DESIGNER for Dark mode\n"
    mayor_dir = design_file.parent / ".mayor"
    assert template_text("review", mayor_dir) == template_text("review")  # no override: the shipped one


def documented(text: str) -> set[str]:
    """The placeholders a template's leading HTML comment lists (two spaces, then the name)."""
    comment = re.match(r"<!--\n(.*?)\n-->\n", text, re.S)
    assert comment, "a template starts with an HTML comment documenting its placeholders"
    listing = comment.group(1).split("Placeholders", 1)[1]
    return set(re.findall(r"^  ([a-z_]+) ", listing, re.M))


@pytest.mark.parametrize("name", TEMPLATES)
def test_every_template_renders_with_its_placeholders_filled(name: str) -> None:
    text = resources.files("prompts").joinpath(f"{name}.md").read_text(encoding="utf-8")  # with its comment
    assert not template_text(name).lstrip().startswith("<!--"), "the comment is for people, not the model"
    names = documented(text)
    assert names and names == set(Template(text).get_identifiers()), "every placeholder used is documented"
    rendered = render(name, {n: f"<<{n}>>" for n in names})
    assert all(f"<<{n}>>" in rendered for n in names)
    assert not re.findall(r"\$\{?[a-z_]", rendered), "a placeholder was left over"
    assert Template(text).substitute({n: "" for n in names})  # no invalid `$`


@pytest.mark.parametrize("name", ["execute", "report"])
def test_bead_templates_render_from_a_bead(name: str) -> None:
    bead = Bead(id="mr-abcd", title="Fix it", description="All of it.", acceptance=[Criterion(text="ok", check="true")])
    rendered = render(name, {**bead_fields(bead), "target": "main", "attempt": 2})
    assert "Fix it" in rendered and "All of it." in rendered and "$MAYOR_RUN_DIR" in rendered
    assert not re.findall(r"\$\{?[a-z_]", rendered)


def test_every_template_ships_in_the_package() -> None:
    package = resources.files("prompts")
    missing = [name for name in TEMPLATES if not package.joinpath(f"{name}.md").is_file()]
    assert missing == [], f"templates missing from the installed prompts package: {missing}"
    patterns = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["prompts"]
    assert all(any(fnmatch(f"{name}.md", p) for p in patterns) for name in TEMPLATES)


def test_help_does_not_import_the_sdk_or_git() -> None:
    import subprocess
    import sys

    code = (
        "import sys; from supervisor.cli import main; sys.argv = ['mayor', '--help']\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "print(sorted(m for m in ('anthropic', 'git') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert "plan" in out.stdout and "design" in out.stdout
    assert out.stdout.strip().splitlines()[-1] == "[]"
