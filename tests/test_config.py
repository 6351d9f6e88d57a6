"""``.mayor/config.toml``: every refusal names the file and the key, in words a user can act on."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from supervisor.config import Config, check_agent, load_config, parse_duration, render_default
from supervisor.errors import ConfigError, UsageError


def refusal(tmp_path: Path, text: str) -> str:
    path = tmp_path / "config.toml"
    path.write_text(text + "\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    message = str(info.value)
    assert message.startswith(f"{path}: "), message
    assert "Extra inputs" not in message and "Value error" not in message
    return message.removeprefix(f"{path}: ")


@pytest.mark.parametrize(
    ("text", "key", "hint"),
    [
        ("slot = 4", "slot", "did you mean 'slots'?"),
        ("idle-timeout = '1m'", "idle-timeout", "did you mean 'idle_timeout'?"),
        ("[budget]\nusdd = 3", "budget.usdd", "did you mean 'usd'?"),
        ('[agents.x]\ncomand = "x"', "agents.x.comand", "did you mean 'command'?"),
    ],
)
def test_a_misspelt_key_gets_did_you_mean(tmp_path: Path, text: str, key: str, hint: str) -> None:
    message = refusal(tmp_path, text)
    assert message.startswith(f"{key}: unknown key") and hint in message


def test_an_unknown_key_with_no_near_miss_lists_the_keys(tmp_path: Path) -> None:
    message = refusal(tmp_path, "[budget]\nzzz = 1")
    assert message == "budget.zzz: unknown key; the keys of [budget]: usd, tokens"


@pytest.mark.parametrize(("table", "own"), [("budget", "usd = 3"), ("agents.x", 'command = "x"')])
def test_a_top_level_key_under_a_table_explains_the_toml_trap(tmp_path: Path, table: str, own: str) -> None:
    message = refusal(tmp_path, f'[{table}]\n{own}\ngate = "pytest -q"')
    assert message.startswith(f"{table}.gate: 'gate' is a top-level key, but it sits under [{table}]")
    assert "every key after a [table] header belongs to that table" in message
    assert "move `gate = ...` above the first [table] line" in message


def test_a_bad_duration_names_the_key_and_the_value(tmp_path: Path) -> None:
    message = refusal(tmp_path, 'timeout = "30 minutes"')
    assert message.startswith('timeout: "30 minutes": not a duration; write it like 90s, 10m, 1h')
    assert refusal(tmp_path, 'idle_timeout = "soon"').startswith("idle_timeout: ")


def test_a_command_agent_needs_its_command(tmp_path: Path) -> None:
    message = refusal(tmp_path, '[agents.x]\nkind = "command"')
    assert message == 'agents.x: kind = "command" needs command = "..." (the shell line that runs the agent)'
    assert refusal(tmp_path, "[agents.y]\nmodel = 'm'").startswith("agents.y: kind = ")


def test_an_unknown_agent_kind(tmp_path: Path) -> None:
    message = refusal(tmp_path, '[agents.x]\nkind = "comand"\ncommand = "x"')
    assert message.startswith("agents.x.kind: \"comand\": unknown agent kind (did you mean 'command'?)")


def test_the_default_agent_must_exist(tmp_path: Path) -> None:
    message = refusal(tmp_path, 'agent = "claude_code"')
    assert message.startswith("agent: no agent 'claude_code' (did you mean 'claude-code'?)")
    assert "[agents.claude_code]" in message


def test_other_refusals_name_the_key_and_the_value(tmp_path: Path) -> None:
    assert refusal(tmp_path, 'merge = "squash"') == "merge: \"squash\": input should be 'merge' or 'rebase'"
    assert refusal(tmp_path, "slots = 0").startswith("slots: 0: input should be greater than or equal to 1")
    assert refusal(tmp_path, "slots = 1\nslots = 2").startswith("not valid TOML")


def test_more_than_one_problem_is_counted(tmp_path: Path) -> None:
    assert refusal(tmp_path, "slot = 4\ngatee = 'x'").endswith("(and 1 more problem(s))")


def test_a_good_config_loads(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text('agent = "w"\ntimeout = "90s"\n[agents.w]\ncommand = "./w.sh"\n[agents.cc]\nkind = "claude-code"\n')
    config = load_config(path)
    assert config.agent_names() == ["w", "cc", "builtin", "claude-code", "codex"]
    assert config.unknown_agent("codex") is None


def test_check_agent_is_a_usage_error_with_did_you_mean() -> None:
    config = Config.model_validate({"agents": {"script": {"command": "x"}}})
    check_agent(config, None)
    check_agent(config, "script")
    with pytest.raises(UsageError, match=r"^--agent scrpit: no agent 'scrpit' \(did you mean 'script'\?\)") as info:
        check_agent(config, "scrpit")
    assert info.value.exit_code == 2


def test_parse_duration() -> None:
    assert [parse_duration(t) for t in ("90s", "10m", "1h", "250ms", "5")] == [90, 600, 3600, 0.25, 5]
    with pytest.raises(UsageError, match=r"^--timeout '30 minutes' is not a duration"):
        parse_duration("30 minutes", "--timeout")


def test_the_default_config_loads_and_matches_the_defaults(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(render_default("main"))
    assert load_config(path) == Config()
    assert "# setup = " in path.read_text()
    assert "claude-code" not in tomllib.loads(path.read_text()).get("agents", {})


def test_the_default_config_shows_the_executor_and_the_ray_lines_load_uncommented(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    text = render_default("main")
    assert 'executor = "local"' in text
    for line in ("# ray_address = ", "# [agents.script]", "# kind = ", "# command = ", "# ray_resources = "):
        text = text.replace(line, line.removeprefix("# "))
    path.write_text(text.replace('executor = "local"', 'executor = "ray"'))
    config = load_config(path)
    assert (config.executor, config.ray_address) == ("ray", "HEAD:6379")
    assert config.agents["script"].ray_resources == {"num_cpus": 2}


def test_the_default_config_of_a_python_project_sets_up_a_venv(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(render_default("main", "python -m venv .venv && .venv/bin/pip install -q -e '.'"))
    text = path.read_text()
    assert load_config(path).setup == "python -m venv .venv && .venv/bin/pip install -q -e '.'"
    assert "never your own editable install" in text
    assert "[agents" not in text.replace("# [agents", "")
