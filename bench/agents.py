"""Benchmark of the built-in agent under ``mayor sling`` (issue 4), offline. Prints figures and ratios.

    python bench/agents.py [--beads 20] [--slots 8] [--turns 10] [--latency 0.5]

20 beads, each done by the real built-in agent (``python -m supervisor.agents.builtin``, the real
``anthropic`` SDK) against the local fake Messages API of tests/fake_anthropic.py: 10 tool turns
per bead (view, create, str_replace, bash; small outputs), then a final answer; 8 slots; each
reply takes ``--latency`` seconds, as a fast model would. The fake server runs in this process,
so its CPU is not counted. Figures:

- CPU: the whole ``mayor sling`` process tree, exactly (``wait4``); the agents' share (each agent
  process's own and its tools' CPU, sampled from ``/proc`` every 50 ms until it ends, so a little
  low); the supervisor's share is the rest (itself and its git children), so a little high.
  Also what an agent pays before its first call (a process that imports the SDK and the loop,
  makes its client and exits), to split the agents' CPU into start-up and loop per tool turn.
- Peak memory per running agent: ``VmHWM`` of each agent's Python process (the child of each
  wrapper shell whose pid is in ``.mayor/runs/*/*/agent.json``), max and median; at start-up;
  the supervisor's.
- The share of input tokens sent in the cached prefix: cache reads / (input + cache reads + cache
  writes), from the fake's prompt-cache simulation (minimum cacheable length of the model applied);
  and on the first request of each bead, where only the prefix shared by all beads (tools, system
  prompt, repository context) can be cached: how many beads read it, and the share read.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from beads.store import Store, bead_from  # noqa: E402
from supervisor.pricing import WORKER_MODEL, min_cacheable  # noqa: E402
from tests.fake_anthropic import FakeAnthropic, Step, bash, edit, final  # noqa: E402

TICK = os.sysconf("SC_CLK_TCK")
SAMPLE_S = 0.05


def isolated_env(home: Path) -> dict[str, str]:
    (home / ".gitconfig").write_text("[init]\n\tdefaultBranch = main\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MAYOR_", "ANTHROPIC_", "GIT_"))}
    env.update(
        HOME=str(home),
        GIT_CONFIG_GLOBAL=str(home / ".gitconfig"),
        GIT_CONFIG_NOSYSTEM="1",
        XDG_CONFIG_HOME=str(home / ".config"),
        XDG_CACHE_HOME=str(home / ".cache"),
    )
    for who in ("AUTHOR", "COMMITTER"):
        env[f"GIT_{who}_NAME"], env[f"GIT_{who}_EMAIL"] = "bench", "bench@mayor.invalid"
    return env


def make_repo(base: Path, env: dict[str, str], files: int = 200) -> Path:
    repo = base / "repo"
    (repo / "src").mkdir(parents=True)
    for i in range(files):
        (repo / "src" / f"mod{i:03d}.py").write_text(f'"""Module {i}."""\n\nVALUE = {i}\n')
    readme = "# bench project\n\n" + "".join(f"- `src/mod{i:03d}.py`: module {i}.\n" for i in range(60))
    (repo / "README.md").write_text(readme)
    subprocess.run(
        "git init -q -b main && git add -A && git commit -qm init", shell=True, cwd=repo, env=env, check=True
    )
    subprocess.run(["mayor", "init"], cwd=repo, env=env, check=True, capture_output=True)
    return repo


def script(bead_id: str, turns: int, latency: float) -> list[Step]:
    """``turns`` tool calls with small outputs (the last one commits), then the final answer."""
    path = f"src/{bead_id}.py"
    calls = [
        edit("view", "README.md"),
        bash("ls src | head -5"),
        edit("create", path, file_text=f'"""Bead {bead_id}."""\n\n\ndef answer():\n    return 41\n'),
        edit("view", path),
        edit("str_replace", path, old_str="return 41", new_str="return 42"),
        bash(f'python -c \'import runpy; print(runpy.run_path("{path}")["answer"]())\''),
        edit("insert", path, insert_line=1, insert_text="# checked by the bench\n"),
        bash("git status --short"),
        edit("view", "src/mod000.py"),
    ]
    calls = [*(calls * (turns // len(calls) + 1))[: turns - 1], bash(f"git add -A && git commit -qm 'bead {bead_id}'")]
    steps = [*calls, final(f"Bead {bead_id}: added {path}, answer() returns 42.")]
    return [Step(s.content, s.stop_reason, delay=latency) for s in steps]


@dataclass
class Proc:
    cpu_s: float = 0.0
    """Own CPU plus that of the children it has waited for."""
    own_s: float = 0.0
    """Own CPU (all its threads)."""
    hwm_kb: int = 0


@dataclass
class Sampler:
    """Samples the ``mayor sling`` process tree from /proc until it ends."""

    root_pid: int
    runs: Path
    procs: dict[int, Proc] = field(default_factory=dict)
    groups: dict[int, int] = field(default_factory=dict)
    """pid -> process group, for every descendant seen."""
    parents: dict[int, int] = field(default_factory=dict)
    agent_groups: set[int] = field(default_factory=set)
    stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        while not self.stop.is_set():
            self.sample()
            time.sleep(SAMPLE_S)

    def sample(self) -> None:
        for record in self.runs.glob("*/*/agent.json"):
            try:
                self.agent_groups.add(int(json.loads(record.read_text())["pid"]))
            except (OSError, ValueError, KeyError):
                continue
        parents: dict[int, int] = {}
        stats: dict[int, list[str]] = {}
        for entry in os.scandir("/proc"):
            if entry.name.isdigit():
                try:
                    fields = Path(f"/proc/{entry.name}/stat").read_text().rsplit(")", 1)[1].split()
                except OSError:
                    continue
                pid = int(entry.name)
                parents[pid], stats[pid] = int(fields[1]), fields
        for pid, fields in stats.items():
            if not self._descends(pid, parents):
                continue
            self.groups[pid], self.parents[pid] = int(fields[2]), parents[pid]
            proc = self.procs.setdefault(pid, Proc())
            proc.cpu_s = max(proc.cpu_s, sum(int(x) for x in fields[11:15]) / TICK)
            proc.own_s = max(proc.own_s, sum(int(x) for x in fields[11:13]) / TICK)
            proc.hwm_kb = max(proc.hwm_kb, _hwm_kb(pid))

    def _descends(self, pid: int, parents: dict[int, int]) -> bool:
        seen = 0
        while pid > 1 and seen < 64:
            if pid == self.root_pid:
                return True
            pid, seen = parents.get(pid, 0), seen + 1
        return False

    def agent_pythons(self) -> dict[int, Proc]:
        """The agent processes proper: the children of the wrapper shells whose pids are in agent.json."""
        return {pid: self.procs[pid] for pid, parent in self.parents.items() if parent in self.agent_groups}


def _hwm_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def agents_cpu(sampler: Sampler) -> float:
    """CPU of the agents: each agent group's top processes (the wrapper shell, which waits for the
    agent, which waits for its tools), counted once."""
    total = 0.0
    for group in sampler.agent_groups:
        wrapper = sampler.procs.get(group)
        agents = [p for pid, p in sampler.procs.items() if sampler.parents.get(pid) == group]
        total += max(wrapper.cpu_s if wrapper else 0.0, sum(p.cpu_s for p in agents))
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--beads", type=int, default=20)
    parser.add_argument("--slots", type=int, default=8)
    parser.add_argument("--turns", type=int, default=10, help="tool turns per bead")
    parser.add_argument("--latency", type=float, default=0.5, help="seconds the fake model takes per reply")
    args = parser.parse_args()
    ids = [f"a{i:02d}" for i in range(args.beads)]
    scripts = {bead_id: script(bead_id, args.turns, args.latency) for bead_id in ids}
    with (
        tempfile.TemporaryDirectory(prefix="bench-agents-") as tmp,
        FakeAnthropic(scripts, min_cacheable_tokens=min_cacheable(WORKER_MODEL)) as fake,
    ):
        env = {**isolated_env(Path(tmp)), **fake.env()}
        repo = make_repo(Path(tmp), env)
        with Store(repo / ".mayor").edit() as tx:
            for bead_id in ids:
                tx.put(bead_from({"id": bead_id, "title": f"Bench bead {bead_id}", "description": "Add a module."}))
        start = time.perf_counter()
        proc = subprocess.Popen(
            ["mayor", "sling", "--agent", "builtin", "--quiet", "-j", str(args.slots)],
            cwd=repo,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        sampler = Sampler(proc.pid, repo / ".mayor" / "runs")
        thread = threading.Thread(target=sampler.run, daemon=True)
        thread.start()
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        sampler.stop.set()
        thread.join()
        output = proc.stdout.read().decode() if proc.stdout else ""
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode != 0:
            for log in sorted(repo.glob(".mayor/runs/*/*/agent.log"))[:3]:
                print(log, log.read_text()[-1500:], file=sys.stderr)
            raise SystemExit(f"mayor sling failed ({proc.returncode}):\n{output[-3000:]}")
        beads = Store(repo / ".mayor").load()
        merged = sum(1 for b in beads.values() if b.status == "merged")
        report(args, fake, sampler, usage, wall, merged, *startup(env))


STARTUP = """
import pathlib, tempfile
from supervisor.agents.builtin import anthropic_model, tools
from supervisor.agents.builtin import loop as builtin
from supervisor.agents.builtin.limiter import SharedLimiter
anthropic_model.AnthropicModel("m", SharedLimiter(pathlib.Path(tempfile.mkdtemp())))
print(next(l for l in open("/proc/self/status") if l.startswith("VmHWM:")).split()[1])
"""


def startup(env: dict[str, str], runs: int = 3) -> tuple[float, int]:
    """CPU seconds and peak KB of an agent process that only starts (imports the SDK and the loop,
    makes its client) and exits: what every agent pays before its first model call."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    peaks = [
        int(subprocess.run([sys.executable, "-c", STARTUP], env=env, check=True, capture_output=True, text=True).stdout)
        for _ in range(runs)
    ]
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime) / runs, max(peaks)


def report(
    args: argparse.Namespace,
    fake: FakeAnthropic,
    sampler: Sampler,
    usage: resource.struct_rusage,
    wall: float,
    merged: int,
    start_cpu: float,
    start_kb: int,
) -> None:
    total_cpu = usage.ru_utime + usage.ru_stime
    agent_cpu = agents_cpu(sampler)
    own = sampler.procs.get(sampler.root_pid, Proc())
    supervisor_cpu = total_cpu - agent_cpu
    pythons = sampler.agent_pythons()
    hwm = sorted(p.hwm_kb for p in pythons.values())
    tokens = fake.total_usage()
    prompt = tokens["input_tokens"] + tokens["cache_read_input_tokens"] + tokens["cache_creation_input_tokens"]
    requests = [c for c in fake.calls if c.usage]
    turns = args.beads * args.turns
    firsts: dict[str, dict[str, int]] = {}
    for call in requests:
        firsts.setdefault(call.conversation, call.usage or {})
    first_read = sum(u["cache_read_input_tokens"] for u in firsts.values())
    first_prompt = sum(
        u["input_tokens"] + u["cache_read_input_tokens"] + u["cache_creation_input_tokens"] for u in firsts.values()
    )
    shown = {
        "beads": args.beads,
        "merged": merged,
        "slots": args.slots,
        "requests": len(requests),
        "wall_s": wall,
        "cpu_total_s": total_cpu,
        "cpu_agents_s": agent_cpu,
        "cpu_supervisor_s": supervisor_cpu,
        "cpu_supervisor_own_s": own.own_s,
        "cpu_agent_startup_s": start_cpu,
        "supervisor_share": supervisor_cpu / total_cpu,
        "agent_cpu_per_bead_s": agent_cpu / args.beads,
        "agent_startup_share_of_agent_cpu": args.beads * start_cpu / agent_cpu,
        "agent_loop_cpu_per_turn_ms": 1000 * (agent_cpu - args.beads * start_cpu) / turns,
        "supervisor_cpu_per_bead_s": supervisor_cpu / args.beads,
        "agents_seen": len(pythons),
        "agent_peak_rss_max_mb": hwm[-1] / 1024 if hwm else 0.0,
        "agent_peak_rss_median_mb": statistics.median(hwm) / 1024 if hwm else 0.0,
        "agent_peak_rss_at_startup_mb": start_kb / 1024,
        "supervisor_peak_rss_mb": own.hwm_kb / 1024,
        "input_tokens": tokens["input_tokens"],
        "cache_read_tokens": tokens["cache_read_input_tokens"],
        "cache_write_tokens": tokens["cache_creation_input_tokens"],
        "cached_share": tokens["cache_read_input_tokens"] / prompt if prompt else 0.0,
        "written_share": tokens["cache_creation_input_tokens"] / prompt if prompt else 0.0,
        "first_requests_reading_shared_prefix": sum(1 for u in firsts.values() if u["cache_read_input_tokens"]),
        "first_request_cached_share": first_read / first_prompt if first_prompt else 0.0,
    }
    for name, value in shown.items():
        print(f"{name:<38} {value:.3f}" if isinstance(value, float) else f"{name:<38} {value}")


if __name__ == "__main__":
    main()
