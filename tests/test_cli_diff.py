"""``dagron-trace diff`` run as a user runs it (``python -m dagron diff``): the
table, ``--json``, ``--fail-if`` gates and their exit statuses (0 pass, 1 a condition
holds, 2 bad input, one line on stderr)."""

from __future__ import annotations

import json
import random
import subprocess
import sys
from pathlib import Path
from typing import Optional

import pytest
from compare_traces import DURATIONS, EDGES, layout, save

SCRIPT = Path(sys.executable).parent / "dagron-trace"


def diff(
    *args: str, module: bool = True, cwd: Optional[Path] = None
) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "dagron"] if module else [str(SCRIPT)]
    return subprocess.run(
        [*command, "diff", *args],
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
        cwd=cwd,
    )


@pytest.fixture
def files(tmp_path: Path) -> dict[str, str]:
    slow = dict(DURATIONS, train=DURATIONS["train"] + 0.2)
    paths = {
        "base": save(tmp_path / "base.json", layout(DURATIONS)),
        "slow": save(tmp_path / "slow.json", layout(slow)),
        "same": save(tmp_path / "same.json", layout(DURATIONS)),
        "failing": save(tmp_path / "failing.json", layout(DURATIONS, status={"stats": "failed"})),
        "other": save(tmp_path / "other.json", layout({"z": 0.1}, {"z": []})),
    }
    return {key: str(path) for key, path in paths.items()}


def test_the_table_and_exit_zero_without_gates(files):
    done = diff(files["base"], "--", files["slow"])
    assert (done.returncode, done.stderr) == (0, "")
    lines = done.stdout.splitlines()
    assert lines[0] == "Run comparison: 1 baseline run(s), 1 candidate run(s)"
    assert lines[1] == "Makespan: 1.103s -> 1.303s  +200.0ms (+18.1%); noise test: too few runs"
    assert "  train             +200.0ms" in lines


@pytest.mark.parametrize("module", [True, False])
def test_gates_exit_one_when_a_condition_holds(files, module):
    if not module and not SCRIPT.exists():
        pytest.skip("console script not installed in this environment")
    done = diff(
        files["base"],
        "--",
        files["slow"],
        "--fail-if",
        "makespan > +10%",
        "--fail-if",
        "new_failures > 0",
        module=module,
    )
    assert (done.returncode, done.stderr) == (1, "")
    assert done.stdout.splitlines()[-2:] == [
        "gate 'makespan > +10%' FAILS: makespan +200.0ms (+18.1%)",
        "gate 'new_failures > 0' passes",
    ]


def test_gates_exit_zero_when_none_holds(files):
    done = diff(
        files["base"],
        "--",
        files["same"],
        "--fail-if",
        "makespan > +10%",
        "--fail-if",
        "node:* > +25% and > 50ms",
    )
    assert (done.returncode, done.stderr) == (0, "")
    assert done.stdout.splitlines()[-1] == "gate 'node:* > +25% and > 50ms' passes"


def test_options_on_either_side_of_the_separator(files):
    options = ("--top", "1")
    done = diff("--fail-if", "new_failures > 0", files["base"], "--", files["failing"], *options)
    assert done.returncode == 1
    assert "gate 'new_failures > 0' FAILS: new_failures = 1 (stats)" in done.stdout
    table = done.stdout.split("Top 1 nodes")[1].splitlines()
    assert table[2].split()[0] == "stats" and "newly failing" in table[2]


def test_json_has_every_figure_and_the_gate(files):
    done = diff(files["base"], "--", files["slow"], "--json", "--fail-if", "node:train > 100ms")
    assert (done.returncode, done.stderr) == (1, "")
    data = json.loads(done.stdout)
    assert data["schema"] == "dagron.compare/1"
    assert data["gate"] == {
        "failed": True,
        "conditions": [
            {
                "expression": "node:train > 100ms",
                "holds": True,
                "reasons": ["node train +200.0ms (+40.0%)"],
            }
        ],
    }
    assert data["makespan"]["change"] == pytest.approx(0.2)
    assert data["makespan"]["verdict"] == "too few runs"
    assert data["baseline"]["traces"][0]["label"] == files["base"]
    assert data["breakdown"]["nodes"]["train"] == pytest.approx(0.2)
    assert sorted(n["name"] for n in data["nodes"]) == sorted(EDGES)
    train = next(n for n in data["nodes"] if n["name"] == "train")
    assert set(train) == {
        "name", "presence", "baseline", "candidate", "change", "relative", "noise",
        "status_changes", "makespan_effect", "absorbed_by_slack",
    }  # fmt: skip
    assert set(train["baseline"]) == {
        "runs", "ended", "median", "p25", "p75", "spread", "min", "max", "statuses",
        "critical_path_time",
    }  # fmt: skip
    assert train["noise"] == {
        "test": "Mann-Whitney U, two-sided",
        "u": None,
        "p_value": None,
        "verdict": "too few runs",
    }


def test_dag_gives_the_structural_path_and_slack(files, tmp_path):
    (tmp_path / "pipeline.py").write_text(
        "from dagron import DAG\n"
        "def build():\n"
        "    dag = DAG()\n"
        f"    for node, preds in {EDGES!r}.items():\n"
        "        dag.add_node(node)\n"
        "        for pred in preds:\n"
        "            dag.add_edge(pred, node)\n"
        "    return dag\n"
    )
    options = ("--dag", "pipeline:build", "--json")
    done = diff(files["base"], "--", files["slow"], *options, cwd=tmp_path)
    assert (done.returncode, done.stderr) == (0, "")
    data = json.loads(done.stdout)
    assert data["candidate"]["structural_critical_path"] == ["extract", "clean", "train", "report"]
    stats = next(n for n in data["nodes"] if n["name"] == "stats")
    assert stats["baseline"]["slack"] == pytest.approx(0.7)
    done = diff(files["base"], "--", files["slow"], "--dag", "pipeline:nothing", cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.startswith("dagron-trace diff: error: --dag pipeline:nothing: module")


def test_repeated_noisy_runs_do_not_fire_the_node_gate(tmp_path):
    rng = random.Random(11)

    def noisy(name: str) -> str:
        times = {k: v * (1 + rng.uniform(-0.1, 0.1)) for k, v in DURATIONS.items()}
        return str(save(tmp_path / name, layout(times)))

    base = [noisy(f"b{k}.json") for k in range(5)]
    cand = [noisy(f"c{k}.json") for k in range(5)]
    done = diff(*base, "--", *cand, "--fail-if", "node:* > +25%", "--json")
    assert done.returncode == 0, done.stdout
    data = json.loads(done.stdout)
    assert len(data["baseline"]["traces"]) == 5 and data["gate"]["failed"] is False
    assert {n["noise"]["verdict"] for n in data["nodes"]} <= {"noise", "changed"}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["{base}", "{slow}"], "usage error: separate baseline and candidate files with --"),
        (["--", "{slow}"], "usage error: no baseline file before --"),
        (["{base}", "--"], "usage error: no candidate file after --"),
        (["{base}", "--", "{slow}", "--top", "x"], "usage error: argument --top"),
        (
            ["{base}", "--", "{slow}", "--fail-if", "makespan >> 1%"],
            "bad --fail-if: 'makespan >> 1%': expected a comparison like '> +10%' at '>> 1%'",
        ),
        (
            ["{base}", "--", "{slow}", "--fail-if", "node:nope > 1%"],
            "bad --fail-if: 'node:nope > 1%': no node of either side matches 'nope'",
        ),
        (["{base}", "--", "{other}"], "error: baseline and candidate share no node"),
        (["{base}", "--", "{missing}"], "error: {missing}: No such file or directory"),
        (["{base}", "--", "{slow}", "--dag", "nomodule"], "usage error: --dag takes MODULE:NAME"),
    ],
)
def test_bad_input_is_one_line_and_exit_two(files, tmp_path, args, message):
    values = dict(files, missing=str(tmp_path / "missing.json"))
    done = diff(*(a.format(**values) for a in args))
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr.count("\n") == 1
    assert done.stderr.startswith(f"dagron-trace diff: {message.format(**values)}")


def test_an_empty_file_and_a_foreign_file_exit_two(files, tmp_path):
    (tmp_path / "empty.json").write_text("")
    (tmp_path / "foreign.json").write_text('{"hello": 1}')
    for name in ("empty.json", "foreign.json"):
        done = diff(files["base"], "--", str(tmp_path / name))
        assert done.returncode == 2 and done.stderr.count("\n") == 1
        assert done.stderr.startswith(f"dagron-trace diff: error: {tmp_path / name}")


def test_help_lists_diff(files):
    done = subprocess.run(
        [sys.executable, "-m", "dagron", "--help"], capture_output=True, text=True, timeout=60
    )
    assert "diff" in done.stdout
    done = diff("--help")
    assert done.returncode == 0 and "BASE... -- CAND..." in done.stdout
