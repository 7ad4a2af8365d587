"""The README's two commands stay true: CI runs the test command exactly as written."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    block = re.search(r"```bash\n(.*?)```", text, re.S)
    assert block is not None, "README must open with a bash block"
    return [line for line in block.group(1).splitlines() if line and not line.startswith("#")]


def test_readme_opens_with_exactly_two_commands():
    commands = readme_commands()
    assert len(commands) == 2
    assert commands[0].startswith("python3 -m pip install . && ")
    assert "examples/complete_example.py" in commands[0]
    assert "pytest" in commands[1] and "cargo test" in commands[1]


def test_ci_runs_the_readme_test_command_as_written():
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    assert readme_commands()[1] in ci


def test_the_main_job_script_exists():
    assert (ROOT / "examples" / "complete_example.py").is_file()


def test_the_readme_example_runs_and_writes_its_three_files(tmp_path, monkeypatch):
    text = (ROOT / "README.md").read_text()
    (example,) = re.findall(r"```python\n(.*?)```", text, re.S)
    assert len(example.splitlines()) <= 15, "the README's example stays short"
    monkeypatch.chdir(tmp_path)
    scope: dict[str, object] = {}
    exec(compile(example, "README.md", "exec"), scope)
    assert sorted(path.name for path in tmp_path.iterdir()) == [
        "pipeline.perfetto-trace",
        "pipeline_events.json",
        "pipeline_trace.json",
    ]
    assert scope["slow"] == []
    assert scope["trace"].summary().splitlines()[3] == "  Completed: 3"


def test_the_readme_stays_short_and_names_no_path_outside_the_repository():
    text = (ROOT / "README.md").read_text()
    assert len(text.splitlines()) <= 120
    assert "../" not in text
