"""Attempts on a local Ray cluster against the local executor (issue: run on Ray). Figures only.

    python bench/ray.py [--beads 100] [--nodes 3] [--cpus 4] [--files 2000]

100 beads whose agent sleeps 1 s, then commits one file. Both runs have the same number of
parallel attempts (nodes x cpus, 12 by default):

- local: ``mayor sling -j 12`` as it is today (worktree pool, agents, evidence, merge queue
  landing every bead, no gate).
- ray: ``mayor sling -j 12 --executor ray --ray-address ...`` on a cluster on 127.0.0.1 (a head
  with no CPUs and ``--nodes`` workers of ``--cpus`` each): the whole loop, every bead landed
  through the merge queue as locally.
- ray-direct (``--runs ray-direct``): :class:`~supervisor.run.ray_executor.RayExecutor` driven
  directly by 12 threads (``ship`` -> ``submit`` -> ``wait`` -> ``receive`` -> ``release``), no
  queue: the split of one attempt's time.

Figures: makespan; dispatch overhead per attempt (slots x makespan / beads - the agent's 1 s:
what each attempt costs a slot beyond its agent); supervisor CPU per bead (this process and its
git children for ray; ``mayor sling`` and all its children for local); the whole machine's CPU
per bead (/proc/stat: in the ray run it includes the cluster's raylets and workers, which on a
real cluster sit on other machines); and for ray the split of one attempt's time.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
# this file is ray.py: its folder must not be on the path, or `import ray` would import it
sys.path[:] = [str(ROOT)] + [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]


def _load_sling_bench() -> Any:
    """bench/sling.py: the repository and the local run, shared with this benchmark."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("sling_bench", ROOT / "bench" / "sling.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


sling_bench = _load_sling_bench()

from beads.models import Bead  # noqa: E402

AGENT = (
    'sleep 1; echo "$MAYOR_BEAD_ID" > "out-$MAYOR_BEAD_ID.txt" && git add -A && git commit -qm "bead $MAYOR_BEAD_ID"'
)
LOOPBACK = "127.0.0.1"


def machine_cpu() -> float:
    """CPU seconds the whole machine spent (user, nice, system), from /proc/stat."""
    fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    return (int(fields[0]) + int(fields[1]) + int(fields[2])) / os.sysconf("SC_CLK_TCK")


def own_cpu() -> float:
    usages = [resource.getrusage(who) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)]
    return sum(u.ru_utime + u.ru_stime for u in usages)


def bench_local(base: Path, beads: int, slots: int, files: int) -> dict[str, float]:
    repo = sling_bench.make_repo(base / "local", files, AGENT)
    sling_bench.add_beads(repo, [Bead(id=f"b{i:03d}", title=f"bead {i}") for i in range(beads)])
    cpu0, mach0 = own_cpu(), machine_cpu()
    wall = sling_bench.sling(repo, slots)
    landed = int(sling_bench.sh("git rev-list --count --merges main", repo))
    assert landed == beads, f"{landed} of {beads} beads landed"
    return figures(wall, own_cpu() - cpu0, machine_cpu() - mach0, beads, slots)


def figures(wall: float, cpu: float, machine: float, beads: int, slots: int) -> dict[str, float]:
    return {
        "makespan_s": wall,
        "overhead_per_attempt_s": slots * wall / beads - 1.0,
        "supervisor_cpu_per_bead_s": cpu / beads,
        "machine_cpu_per_bead_s": machine / beads,
    }


def start_cluster(nodes: int, cpus: int, home: Path) -> Any:
    """A head without CPUs and ``nodes`` workers, all on loopback (the environment is set before Ray is imported)."""
    (home / ".gitconfig").write_text("[init]\n\tdefaultBranch = main\n")
    os.environ.update(
        {
            "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0",
            "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
            "GIT_CONFIG_GLOBAL": str(home / ".gitconfig"),
            **{k: v for k, v in sling_bench.GIT_ENV.items() if k.startswith(("GIT_AUTHOR", "GIT_COMMITTER"))},
        }
    )
    from ray.cluster_utils import Cluster

    cluster = Cluster(
        initialize_head=True, head_node_args={"num_cpus": 0, "node_ip_address": LOOPBACK, "include_dashboard": False}
    )
    for _ in range(nodes):
        cluster.add_node(num_cpus=cpus, node_ip_address=LOOPBACK)
    cluster.wait_for_nodes()
    return cluster


def bench_ray_sling(base: Path, beads: int, nodes: int, cpus: int, files: int) -> dict[str, Any]:
    """``mayor sling --executor ray`` against a fresh local cluster: makespan, CPU, beads per node."""
    started = time.perf_counter()
    (base / "home-sling").mkdir()
    cluster = start_cluster(nodes, cpus, base / "home-sling")
    cluster_s = time.perf_counter() - started
    repo = sling_bench.make_repo(base / "ray-sling", files, AGENT)
    sling_bench.add_beads(repo, [Bead(id=f"b{i:03d}", title=f"bead {i}") for i in range(beads)])
    env = {**sling_bench.GIT_ENV, **{k: os.environ[k] for k in ("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "PYTHONPATH")}}
    slots = nodes * cpus
    command = ["mayor", "sling", "-q", "-j", str(slots), "--executor", "ray", "--ray-address", cluster.address]
    cpu0, mach0 = own_cpu(), machine_cpu()
    start = time.perf_counter()
    proc = subprocess.run(command, cwd=repo, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"mayor sling --executor ray failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    landed = int(sling_bench.sh("git rev-list --count --merges main", repo))
    assert landed == beads, f"{landed} of {beads} beads landed"
    out: dict[str, Any] = figures(wall, own_cpu() - cpu0, machine_cpu() - mach0, beads, slots)
    started_on = [e["data"]["node"] for e in sling_bench.events(repo) if e["type"] == "agent_started"]
    out["beads_per_node"] = sorted(started_on.count(node) for node in set(started_on))
    out["cluster_start_s"] = cluster_s
    cluster.shutdown()
    return out


def bench_ray(base: Path, beads: int, nodes: int, cpus: int, files: int) -> dict[str, Any]:
    from supervisor.run import remote
    from supervisor.run.ray_executor import RayExecutor
    from supervisor.run.remote import RemoteSpec

    started = time.perf_counter()
    (base / "home").mkdir()
    cluster = start_cluster(nodes, cpus, base / "home")
    cluster_s = time.perf_counter() - started
    repo = sling_bench.make_repo(base / "ray", files, AGENT)
    executor = RayExecutor(cluster.address, workdir=str(base / "nodes"), node_ip_address=LOOPBACK)
    executor.connect()
    base_sha = sling_bench.sh("git rev-parse main", repo).strip()
    split: dict[str, list[float]] = {"ship_s": [], "submit_to_result_s": [], "agent_s": [], "receive_s": []}
    on_node: dict[str, int] = {}
    lock = threading.Lock()

    def one(i: int) -> None:
        bead = Bead(id=f"b{i:03d}", title=f"bead {i}")
        spec = RemoteSpec(
            remote.repo_id(repo), bead.to_json(), 1, base_sha, f"mayor/{bead.id}", "main", "", "", AGENT,
            {"MAYOR_BEAD_ID": bead.id, "MAYOR_ATTEMPT": "1"}, 600.0, 600.0,
        )  # fmt: skip
        t0 = time.perf_counter()
        bundle = remote.ship(repo, base_sha, spec.branch)
        t1 = time.perf_counter()
        handle = executor.submit(spec, bundle)
        poll = executor.wait(handle, 600, every=0.2)
        t2 = time.perf_counter()
        assert poll.result is not None and poll.result.code == 0 and not poll.result.error, poll
        remote.receive(repo, poll.result, spec.branch)
        executor.release(handle)
        t3 = time.perf_counter()
        with lock:
            for key, value in zip(split, (t1 - t0, t2 - t1, poll.result.timings["agent_s"], t3 - t2), strict=True):
                split[key].append(value)
            on_node[poll.result.node] = on_node.get(poll.result.node, 0) + 1

    slots = nodes * cpus
    cpu0, mach0 = own_cpu(), machine_cpu()
    start = time.perf_counter()
    with ThreadPoolExecutor(slots) as pool:
        list(pool.map(one, range(beads)))
    wall = time.perf_counter() - start
    out: dict[str, Any] = figures(wall, own_cpu() - cpu0, machine_cpu() - mach0, beads, slots)
    branches = sling_bench.sh("git for-each-ref --format=x refs/heads/mayor/", repo).split()
    assert len(branches) == beads, f"{len(branches)} of {beads} branches came back"
    out |= {k: statistics.median(v) for k, v in split.items()}
    out["beads_per_node"] = sorted(on_node.values())
    out["cluster_start_s"] = cluster_s
    out["bundle_bytes"] = len(remote.ship(repo, base_sha, "mayor/none"))
    import ray

    ray.shutdown()
    cluster.shutdown()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--beads", type=int, default=100)
    parser.add_argument("--nodes", type=int, default=3)
    parser.add_argument("--cpus", type=int, default=4, help="logical CPUs per worker node (attempts per node)")
    parser.add_argument("--files", type=int, default=2000, help="files in the repository (the bundle's size)")
    parser.add_argument("--runs", default="local,ray", help="which of local, ray, ray-direct to run, in order")
    args = parser.parse_args()
    slots = args.nodes * args.cpus
    print(f"{args.beads} beads, agent sleeps 1 s then commits; {slots} attempts at a time; {os.cpu_count()} cores")
    print("ray-direct: the executor driven directly: branches fetched back, nothing landed")
    with tempfile.TemporaryDirectory(prefix="mayor-bench-ray-") as tmp:
        runs = {
            "local": lambda: bench_local(Path(tmp), args.beads, slots, args.files),
            "ray": lambda: bench_ray_sling(Path(tmp), args.beads, args.nodes, args.cpus, args.files),
            "ray-direct": lambda: bench_ray(Path(tmp), args.beads, args.nodes, args.cpus, args.files),
        }
        for name, run in ((name, runs[name]) for name in args.runs.split(",")):
            shown = "  ".join(f"{k}={v:.3f}" if isinstance(v, float) else f"{k}={v}" for k, v in run().items())
            print(f"{name:<10} {shown}", flush=True)


if __name__ == "__main__":
    main()
