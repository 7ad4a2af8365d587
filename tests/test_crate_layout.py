"""The Rust workspace's layout rules that Cargo cannot say itself.

Cargo keeps Python out of the core (``rust/core`` has no pyo3 dependency) and keeps
the crates from depending on each other in a cycle. What is left to check here:

- the core's top-level modules (``trace``, ``export``, ``journal``, ...) use each other
  without a cycle (``crate::<module>`` in code; comments, literals and test modules do
  not count);
- every file starts with a ``//!`` comment saying what it owns;
- no file has more than 500 lines before its first test module;
- DESIGN.md's crate map has one line per file, saying what it owns.
"""

from __future__ import annotations

import re
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CRATES = [ROOT / "rust" / "core" / "src", ROOT / "rust" / "py" / "src"]
CORE = CRATES[0]
DESIGN = ROOT / "DESIGN.md"
MAX_CODE_LINES = 500
# Files that only hold tests (declared under #[cfg(test)] or #[cfg(loom)]).
TEST_FILE = re.compile(r"(^|/)(tests|loom_tests)\.rs$")

# Comments, string literals (plain, byte, raw) and char literals, in one pass, so that
# `//` inside a string or a quote inside a comment is read for what it is.
_IGNORED = re.compile(
    r"""//[^\n]*|/\*.*?\*/|b?r(#*)".*?"\1|b?"(?:\\.|[^"\\])*"|'(?:\\.|[^\\'\n])'""",
    re.S,
)


def code_of(text: str) -> str:
    """``text`` up to its first test module, with comments and literals removed."""
    cut = text.find("#[cfg(test)]")
    return _IGNORED.sub(" ", text if cut < 0 else text[:cut])


def rust_files() -> dict[str, str]:
    """Every ``.rs`` file of both crates, by path relative to the repository."""
    return {
        str(path.relative_to(ROOT)): path.read_text(encoding="utf-8")
        for crate in CRATES
        for path in sorted(crate.rglob("*.rs"))
    }


def core_module_of(path: Path) -> str:
    """The core's top-level module a file belongs to (``lib`` for ``lib.rs``)."""
    return path.relative_to(CORE).parts[0].removesuffix(".rs")


def core_module_graph() -> dict[str, set[str]]:
    """Top-level module -> the other top-level modules its code names."""
    graph: dict[str, set[str]] = {}
    for path in sorted(CORE.rglob("*.rs")):
        module = core_module_of(path)
        if module == "lib" or TEST_FILE.search(path.as_posix()):
            continue
        used = set(re.findall(r"\bcrate::(\w+)", code_of(path.read_text(encoding="utf-8"))))
        graph.setdefault(module, set()).update(used - {module})
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str]:
    """A cycle of ``graph`` (its nodes, first repeated last), or ``[]``."""
    try:
        tuple(TopologicalSorter(graph).static_order())
    except CycleError as error:
        return list(error.args[1])
    return []


def test_the_cores_modules_use_each_other_without_a_cycle() -> None:
    graph = core_module_graph()
    assert {"trace", "export", "journal", "buffer"} <= set(graph)
    assert find_cycle(graph) == []


def test_every_file_starts_with_a_module_comment() -> None:
    missing = [path for path, text in rust_files().items() if not text.startswith("//!")]
    assert missing == []


def test_no_file_above_500_lines_before_its_tests() -> None:
    long = {
        path: lines
        for path, text in rust_files().items()
        if (lines := text.split("#[cfg(test)]", 1)[0].count("\n")) > MAX_CODE_LINES
    }
    assert long == {}


def crate_map(design: str) -> dict[str, str]:
    """DESIGN.md's crate map (its first section): file -> what it owns."""
    lines = design.splitlines()
    headings = [i for i, line in enumerate(lines) if line.startswith("## ")]
    assert headings and lines[headings[0]] == "## Crate map", "DESIGN.md opens with its map"
    end = headings[1] if len(headings) > 1 else len(lines)
    entries: dict[str, str] = {}
    for line in lines[headings[0] + 1 : end]:
        if line.startswith("- "):
            found = re.fullmatch(r"- `(rust/[^`]+\.rs)` — (\S.*)", line)
            assert found, f"crate map line not '- `rust/path.rs` — what it owns': {line!r}"
            assert found.group(1) not in entries, f"{found.group(1)} is listed twice"
            entries[found.group(1)] = found.group(2)
    return entries


def test_design_map_lists_every_file_and_what_it_owns() -> None:
    listed = set(crate_map(DESIGN.read_text(encoding="utf-8")))
    on_disk = set(rust_files())
    assert (sorted(on_disk - listed), sorted(listed - on_disk)) == ([], [])


# --- the checks' own tests ----------------------------------------------------------


def test_code_of_drops_comments_literals_and_test_modules() -> None:
    text = (
        '//! crate::a in a comment\nlet s = "crate::b // not a comment";\n'
        'let r = r#"crate::c"#; let q = \'"\'; crate::d::f();\n'
        "/* crate::e */\n#[cfg(test)]\nmod tests { use crate::f; }\n"
    )
    assert re.findall(r"\bcrate::(\w+)", code_of(text)) == ["d"]


@pytest.mark.parametrize(
    ("graph", "cycle"),
    [
        ({"a": {"b"}, "b": {"c"}, "c": set()}, []),
        ({"a": {"b"}, "b": {"a"}}, ["a", "b", "a"]),
    ],
)
def test_find_cycle(graph: dict[str, set[str]], cycle: list[str]) -> None:
    found = find_cycle(graph)
    assert (found[0] == found[-1] and set(found) == set(cycle)) if cycle else found == []


def test_crate_map_parser() -> None:
    design = "# Design\n\n## Crate map\n\nintro\n\n- `rust/x.rs` — owns x\n\n## Next\n"
    assert crate_map(design) == {"rust/x.rs": "owns x"}
    with pytest.raises(AssertionError, match="crate map line"):
        crate_map("# D\n\n## Crate map\n\n- `rust/x.rs` owns x\n")
