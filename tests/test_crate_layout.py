"""The Rust crate's layout rules (issue 9), read from the sources under ``rust/``:

- no import cycle among the crate's files (``use crate::…``, ``use super::…``, paths in
  code; test modules and comments do not count);
- no pyo3 outside ``rust/py/``;
- no file above 500 lines before its first test module;
- every file starts with a ``//!`` comment saying what it owns;
- DESIGN.md starts with a crate map naming every file, and each file's uses in the code
  are among those its line in the map allows.

Pure Python and fast: a small lexer drops comments and literals, then the module tree,
``use`` trees and paths are resolved to files. The resolver's own tests run on small
synthetic crates at the end of this file.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CRATE_DIR = ROOT / "rust"
DESIGN = ROOT / "DESIGN.md"
MAX_CODE_LINES = 500

ModulePath = tuple[str, ...]

# --- lexing -------------------------------------------------------------------------

_CHAR_LITERAL = re.compile(r"'(?:\\(?:x[0-9a-fA-F]{2}|u\{[0-9a-fA-F]{1,6}\}|.)|[^\\'\n])'")
# Where a comment, a string (plain, byte, raw) or a char literal or lifetime may start.
_LEXEME_START = re.compile(r"""//|/\*|(?<![\w])b?r(#*)"|(?<![\w])b?"|'""")
_NOT_NEWLINE = re.compile(r"[^\n]")


def _blank(chunk: str) -> str:
    return _NOT_NEWLINE.sub(" ", chunk)


def strip_comments_and_literals(text: str) -> str:
    """``text`` with comments, string and char literals blanked out (newlines kept, so
    offsets and line numbers stay), lifetimes left alone."""
    out: list[str] = []
    i, n = 0, len(text)
    while True:
        lexeme = _LEXEME_START.search(text, i)
        if lexeme is None:
            out.append(text[i:])
            return "".join(out)
        out.append(text[i : lexeme.start()])
        i = lexeme.start()
        token = lexeme.group(0)
        if token == "//":
            end = text.find("\n", i)
            end = n if end < 0 else end
        elif token == "/*":
            depth, end = 1, i + 2
            while end < n and depth:
                if text.startswith("/*", end):
                    depth, end = depth + 1, end + 2
                elif text.startswith("*/", end):
                    depth, end = depth - 1, end + 2
                else:
                    end += 1
        elif token.endswith('"') and "r" in token:
            close = '"' + (lexeme.group(1) or "")
            end = text.find(close, lexeme.end())
            end = n if end < 0 else end + len(close)
        elif token.endswith('"'):
            end = lexeme.end()
            while end < n and text[end] != '"':
                end += 2 if text[end] == "\\" else 1
            end += 1
        else:
            char = _CHAR_LITERAL.match(text, i)
            if char is None:  # a lifetime or a label
                out.append("'")
                i += 1
                continue
            end = char.end()
        out.append(_blank(text[i:end]))
        i = end


def _matching_brace(code: str, open_at: int) -> int:
    """The offset just past the ``}`` closing the ``{`` at ``open_at``."""
    depth = 0
    for j in range(open_at, len(code)):
        if code[j] == "{":
            depth += 1
        elif code[j] == "}":
            depth -= 1
            if depth == 0:
                return j + 1
    return len(code)


def _split_top_level(text: str) -> list[str]:
    """``text`` split at commas outside brackets."""
    parts, depth, start = [], 0, 0
    for j, c in enumerate(text):
        if c in "([{":
            depth += 1
        elif c in ")]}":
            depth -= 1
        elif c == "," and depth == 0:
            parts.append(text[start:j])
            start = j + 1
    parts.append(text[start:])
    return [part.strip() for part in parts if part.strip()]


def is_test_cfg(predicate: str) -> bool:
    """Whether a ``cfg(...)`` predicate holds only in tests: ``test``, or ``all(...)``
    with ``test`` among its terms (``any(test, ...)`` and ``not(test)`` do not)."""
    predicate = predicate.strip()
    if predicate == "test":
        return True
    if predicate.startswith("all(") and predicate.endswith(")"):
        return any(is_test_cfg(term) for term in _split_top_level(predicate[4:-1]))
    return False


_CFG_ATTRIBUTE = re.compile(r"#\s*\[\s*cfg\s*\(")
_ATTRIBUTE = re.compile(r"\s*#\s*\[")


def _test_cfg_spans(code: str) -> list[tuple[int, int, int]]:
    """``(attribute start, item start, item end)`` for each test-only item."""
    spans = []
    for attribute in _CFG_ATTRIBUTE.finditer(code):
        open_paren = attribute.end() - 1
        depth, j = 0, open_paren
        for j in range(open_paren, len(code)):
            depth += {"(": 1, ")": -1}.get(code[j], 0)
            if depth == 0:
                break
        if not is_test_cfg(code[open_paren + 1 : j]):
            continue
        at = code.index("]", j) + 1
        while other := _ATTRIBUTE.match(code, at):  # further attributes on the same item
            at = code.index("]", other.end()) + 1
        # The item ends at its first `{ ... }` block or at a `;` outside brackets.
        depth = 0
        for k in range(at, len(code)):
            c = code[k]
            if c in "([":
                depth += 1
            elif c in ")]":
                depth -= 1
            elif c == "{" and depth == 0:
                spans.append((attribute.start(), at, _matching_brace(code, k)))
                break
            elif c == ";" and depth == 0:
                spans.append((attribute.start(), at, k + 1))
                break
    return spans


# --- one file -----------------------------------------------------------------------


@dataclass
class Use:
    """A path a file names: its segments, the module it is named from, its line."""

    segments: list[str]
    module: ModulePath
    line: int
    alias: str | None = None  # the name a `use` binds, None for a path in code


@dataclass
class SourceFile:
    path: str  # relative to rust/, with "/"
    module: ModulePath
    text: str
    code: str = ""  # comments, literals and test-only items blanked
    code_with_tests: str = ""  # comments and literals blanked
    first_test_line: int | None = None  # 1-based line of the first test-only attribute
    child_modules: set[str] = field(default_factory=set)
    test_only_children: set[str] = field(default_factory=set)
    uses: list[Use] = field(default_factory=list)

    @property
    def lines_before_tests(self) -> int:
        if self.first_test_line is None:
            return len(self.text.splitlines())
        return self.first_test_line - 1


def module_of(path: str) -> ModulePath:
    """``lib.rs`` -> (), ``a/mod.rs`` -> ("a",), ``a/b.rs`` -> ("a", "b")."""
    parts = path[: -len(".rs")].split("/")
    if parts[-1] in ("lib", "mod"):
        parts.pop()
    return tuple(parts)


_MOD_DECLARATION = re.compile(r"\bmod\s+([A-Za-z_]\w*)\s*([;{])")
_MOD_FILE = re.compile(r"\s*(?:pub(?:\s*\([^)]*\))?\s+)?mod\s+([A-Za-z_]\w*)\s*;")
_USE = re.compile(r"\buse\s+([^;]*);")
_VISIBILITY_IN = re.compile(r"\bpub\s*\(\s*in\s+[^)]*\)")
_PATH = re.compile(r"(?<![\w:])([A-Za-z_]\w*(?:\s*::\s*[A-Za-z_]\w*)+)")


def expand_use_tree(tree: str) -> list[tuple[list[str], str | None]]:
    """A use tree's leaves as ``(segments, alias)``; ``a::{self, b as c}`` gives
    ``(["a"], None)`` and ``(["a", "b"], "c")``; a glob leaf ends in ``"*"``."""
    tree = re.sub(r"\s+", " ", tree).strip()
    brace = tree.find("{")
    if brace >= 0 and tree.endswith("}"):
        prefix = [s.strip() for s in tree[:brace].split("::") if s.strip()]
        leaves = []
        for part in _split_top_level(tree[brace + 1 : -1]):
            for segments, alias in expand_use_tree(part):
                if segments == ["self"]:
                    leaves.append((prefix, alias))
                else:
                    leaves.append((prefix + segments, alias))
        return leaves
    alias = None
    if " as " in tree:
        tree, alias = (s.strip() for s in tree.split(" as ", 1))
    return [([s.strip() for s in tree.split("::") if s.strip()], alias)]


def _inline_modules(code: str) -> list[tuple[int, int, str]]:
    """``(start, end, name)`` of each ``mod name { ... }`` block in ``code``."""
    return [
        (m.start(), _matching_brace(code, m.end() - 1), m.group(1))
        for m in _MOD_DECLARATION.finditer(code)
        if m.group(2) == "{"
    ]


def parse_file(path: str, text: str) -> SourceFile:
    source = SourceFile(path=path, module=module_of(path), text=text)
    code = strip_comments_and_literals(text)
    source.code_with_tests = code
    spans = _test_cfg_spans(code)
    if spans:
        source.first_test_line = code.count("\n", 0, spans[0][0]) + 1
    for start, item, end in spans:
        declared = _MOD_FILE.fullmatch(code, item, end)
        if declared:
            source.test_only_children.add(declared.group(1))
        code = code[:start] + _blank(code[start:end]) + code[end:]
    code = _VISIBILITY_IN.sub(lambda m: " " * len(m.group(0)), code)
    source.code = code
    inline = _inline_modules(code)
    source.child_modules = {
        m.group(1) for m in _MOD_DECLARATION.finditer(code) if m.group(2) == ";"
    }

    def module_at(offset: int) -> ModulePath:
        inside = sorted((s, name) for s, e, name in inline if s <= offset < e)
        return source.module + tuple(name for _, name in inside)

    def line_at(offset: int) -> int:
        return code.count("\n", 0, offset) + 1

    for use in _USE.finditer(code):
        for segments, alias in expand_use_tree(use.group(1)):
            name = alias or (segments[-1] if segments else None)
            source.uses.append(
                Use(segments, module_at(use.start()), line_at(use.start()), alias=name)
            )
    without_uses = _USE.sub(lambda m: _blank(m.group(0)), code)
    for path_match in _PATH.finditer(without_uses):
        # A path in code ends with an item (a function, type, constant or macro), never
        # with a module: `format::decode(..)` is the function, not a module `decode`.
        segments = [s.strip() for s in path_match.group(1).split("::")][:-1]
        source.uses.append(
            Use(segments, module_at(path_match.start()), line_at(path_match.start()))
        )
    return source


# --- the crate ----------------------------------------------------------------------


@dataclass
class Edge:
    source: str
    target: str
    line: int


class Crate:
    """The crate's files, their module paths, and the file -> file graph of uses."""

    def __init__(self, sources: dict[str, str]):
        self.files = {path: parse_file(path, text) for path, text in sorted(sources.items())}
        self.by_module = {f.module: f.path for f in self.files.values()}
        self.test_only: set[str] = set()
        for f in self.files.values():
            for child in f.test_only_children:
                target = self.by_module.get(self._child_module(f, child))
                if target:
                    self.test_only.add(target)
        self.edges: dict[str, dict[str, Edge]] = {path: {} for path in self.files}
        for f in self.files.values():
            if f.path in self.test_only:
                continue
            aliases = self._aliases(f)
            for use in f.uses:
                target = self.resolve(f, use, aliases)
                if target and target != f.path and target not in self.edges[f.path]:
                    self.edges[f.path][target] = Edge(f.path, target, use.line)

    @classmethod
    def from_disk(cls, directory: Path = CRATE_DIR) -> Crate:
        return cls(
            {
                path.relative_to(directory).as_posix(): path.read_text(encoding="utf-8")
                for path in sorted(directory.rglob("*.rs"))
            }
        )

    @staticmethod
    def _child_module(f: SourceFile, child: str) -> ModulePath:
        return f.module + (child,)

    def _aliases(self, f: SourceFile) -> dict[str, ModulePath]:
        """Names a file's ``use`` lines bind to modules of the crate (``use crate::a;``,
        ``use super::b as c;``), so that ``a::x`` in its code resolves."""
        aliases: dict[str, ModulePath] = {}
        for use in f.uses:
            name = use.alias
            if not name or name in ("self", "*", "_"):
                continue
            absolute = self.absolute(f, use.segments, use.module, {})
            if absolute is not None and absolute in self.by_module:
                aliases[name] = absolute
        return aliases

    def absolute(
        self,
        f: SourceFile,
        segments: list[str],
        module: ModulePath,
        aliases: dict[str, ModulePath],
    ) -> ModulePath | None:
        """``segments`` as an absolute module path, or None when it starts outside the
        crate (std, another crate, a local item)."""
        if not segments:
            return None
        head, rest = segments[0], segments[1:]
        if head == "crate":
            base: ModulePath = ()
        elif head == "self":
            base = module
        elif head == "super":
            base = module
            rest = segments
            while rest and rest[0] == "super":
                if not base:
                    return None
                base, rest = base[:-1], rest[1:]
        elif module == f.module and head in f.child_modules:
            base, rest = module + (head,), rest
        elif head in aliases:
            base = aliases[head]
        else:
            return None
        return base + tuple(s for s in rest if s != "*")

    def resolve(self, f: SourceFile, use: Use, aliases: dict[str, ModulePath]) -> str | None:
        """The file of the deepest module ``use`` names, or None outside the crate."""
        absolute = self.absolute(f, use.segments, use.module, aliases)
        if absolute is None:
            return None
        for depth in range(len(absolute), -1, -1):
            target = self.by_module.get(absolute[:depth])
            if target:
                return target
        return None

    def cycle_groups(self) -> list[list[str]]:
        """The groups of two or more files that reach each other (strongly connected
        components), each sorted."""
        index: dict[str, int] = {}
        low: dict[str, int] = {}
        stack: list[str] = []
        on_stack: set[str] = set()
        groups: list[list[str]] = []

        def connect(v: str) -> None:  # Tarjan's strongly connected components
            index[v] = low[v] = len(index)
            stack.append(v)
            on_stack.add(v)
            for w in sorted(self.edges[v]):
                if w not in index:
                    connect(w)
                    low[v] = min(low[v], low[w])
                elif w in on_stack:
                    low[v] = min(low[v], index[w])
            if low[v] == index[v]:
                group = []
                while True:
                    w = stack.pop()
                    on_stack.discard(w)
                    group.append(w)
                    if w == v:
                        break
                if len(group) > 1:
                    groups.append(sorted(group))

        for v in sorted(self.edges):
            if v not in index:
                connect(v)
        return sorted(groups)

    def cycles(self) -> list[list[str]]:
        """One cycle (first file repeated at the end) per group of files that reach
        each other, the shortest through the group's first file."""
        cycles = []
        for group in self.cycle_groups():
            start, members = group[0], set(group)
            previous: dict[str, str] = {}
            frontier = [start]
            while frontier and start not in previous:
                following = []
                for v in frontier:
                    for w in sorted(self.edges[v]):
                        if w in members and w not in previous:
                            previous[w] = v
                            following.append(w)
                frontier = following
            cycle = [start]
            v = previous[start]
            while v != start:
                cycle.append(v)
                v = previous[v]
            cycle.append(start)
            cycles.append(cycle[::-1])
        return cycles

    def describe(self, cycle: list[str]) -> str:
        return (
            " -> ".join(f"{a} (line {self.edges[a][b].line})" for a, b in zip(cycle, cycle[1:]))
            + f" -> {cycle[-1]}"
        )


# --- the rules, on the crate as it is -----------------------------------------------


@pytest.fixture(scope="module")
def crate() -> Crate:
    return Crate.from_disk()


def test_no_import_cycle_among_the_crates_files(crate: Crate) -> None:
    """File A uses B when A's code names B's module (or an item in it) by `crate::`,
    `super::`, `self::`, a child module or a `use` alias; test modules do not count."""
    groups = crate.cycle_groups()
    assert groups == [], "import cycles among rust/ files:\n" + "\n".join(
        f"{crate.describe(cycle)}\n  (the files that reach each other: {', '.join(group)})"
        for cycle, group in zip(crate.cycles(), groups)
    )


_PYO3 = re.compile(r"\bpyo3\b|#\s*\[\s*(?:pyclass|pymethods|pyfunction|pymodule)\b")


def test_no_pyo3_outside_the_bindings(crate: Crate) -> None:
    offenders = []
    for f in crate.files.values():
        if f.path.startswith("py/"):
            continue
        for match in _PYO3.finditer(f.code_with_tests):
            line = f.code_with_tests.count("\n", 0, match.start()) + 1
            offenders.append(f"{f.path}:{line}: {match.group(0)}")
        for target, edge in crate.edges[f.path].items():
            if target.startswith("py/"):
                offenders.append(f"{f.path}:{edge.line}: uses {target}")
    assert offenders == [], "pyo3 outside rust/py/:\n" + "\n".join(offenders)
    lib = crate.files["lib.rs"].code
    assert re.findall(r"\bpy\b", lib) == ["py"], "lib.rs names `py` beyond `mod py;`"
    assert re.search(r"(?m)^\s*mod\s+py\s*;", lib), "lib.rs must declare `mod py;` (private)"


def test_no_file_above_500_lines_before_its_tests(crate: Crate) -> None:
    """Every line counts (comments and blank lines too) up to the first test-only item;
    files declared only for tests (`#[cfg(test)] mod tests;`) are tests themselves."""
    too_big = sorted(
        f"{f.path}: {f.lines_before_tests} lines"
        for f in crate.files.values()
        if f.path not in crate.test_only and f.lines_before_tests > MAX_CODE_LINES
    )
    assert too_big == [], f"files above {MAX_CODE_LINES} lines before their tests:\n" + (
        "\n".join(too_big)
    )


def test_every_file_starts_with_a_module_comment(crate: Crate) -> None:
    missing = sorted(f.path for f in crate.files.values() if not f.text.startswith("//!"))
    assert missing == [], "files without a leading //! comment: " + ", ".join(missing)


# --- DESIGN.md's crate map ------------------------------------------------------------

_MAP_LINE = re.compile(r"^- `rust/([^`]+\.rs)` — (.+) — (uses .+)$")


def crate_map(design: str) -> dict[str, tuple[str, str]]:
    """DESIGN.md's crate map: file (relative to rust/) -> (what it owns, what it may
    use). The map is the first section after the title and intro, ``## Crate map``."""
    lines = design.splitlines()
    assert lines and lines[0].startswith("# "), "DESIGN.md must start with its title"
    headings = [i for i, line in enumerate(lines) if line.startswith("## ")]
    assert headings, "DESIGN.md has no sections"
    first = headings[0]
    assert lines[first] == "## Crate map", (
        f"DESIGN.md's first section must be '## Crate map', not {lines[first]!r}"
    )
    end = headings[1] if len(headings) > 1 else len(lines)
    entries: dict[str, tuple[str, str]] = {}
    for line in lines[first + 1 : end]:
        if not line.startswith("- "):
            continue
        match = _MAP_LINE.match(line)
        assert match, f"crate map line not `- `rust/path.rs` — owns — uses …`: {line!r}"
        path, owns, uses = match.groups()
        assert path not in entries, f"rust/{path} is listed twice in the crate map"
        entries[path] = (owns.strip(), uses.strip())
    return entries


def allowed_uses(uses: str) -> list[str]:
    """The files or folders (ending in ``/``) a map line's last column names in
    backticks; ``nothing in the crate`` names none."""
    return re.findall(r"`([^`]+)`", uses)


def test_design_map_lists_every_file_of_the_crate(crate: Crate) -> None:
    entries = crate_map(DESIGN.read_text(encoding="utf-8"))
    on_disk = set(crate.files)
    missing = sorted(on_disk - set(entries))
    stale = sorted(set(entries) - on_disk)
    assert (missing, stale) == ([], []), (
        f"DESIGN.md's crate map misses {missing} and lists files that do not exist: {stale}"
    )


def test_design_map_names_what_each_file_uses(crate: Crate) -> None:
    entries = crate_map(DESIGN.read_text(encoding="utf-8"))
    wrong = []
    for path, edges in sorted(crate.edges.items()):
        if path not in entries:
            continue  # the test above reports it
        allowed = allowed_uses(entries[path][1])
        for target, edge in sorted(edges.items()):
            if not any(target == a or (a.endswith("/") and target.startswith(a)) for a in allowed):
                wrong.append(f"rust/{path}:{edge.line} uses {target}, not in its map line")
    assert wrong == [], "DESIGN.md's crate map does not allow:\n" + "\n".join(wrong)


# --- the resolver, on synthetic crates ------------------------------------------------


def test_resolver_finds_a_cycle_through_super() -> None:
    crate = Crate(
        {
            "lib.rs": "//! root\npub mod graph;\n",
            "graph/mod.rs": "//! g\nmod dag;\nmod pass;\npub use pass::run;\npub struct Graph;\n",
            "graph/dag.rs": "//! d\npub struct Dag;\n",
            "graph/pass.rs": "//! p\nuse super::{dag::Dag, Graph};\npub fn run() {}\n",
        }
    )
    assert crate.cycles() == [["graph/mod.rs", "graph/pass.rs", "graph/mod.rs"]]
    assert set(crate.edges["graph/pass.rs"]) == {"graph/dag.rs", "graph/mod.rs"}
    assert crate.describe(crate.cycles()[0]) == (
        "graph/mod.rs (line 4) -> graph/pass.rs (line 2) -> graph/mod.rs"
    )


def test_resolver_finds_a_cycle_through_crate_paths_in_code() -> None:
    crate = Crate(
        {
            "lib.rs": "//! root\npub mod a;\npub mod b;\npub mod c;\npub mod text;\n",
            "text/mod.rs": "//! t\npub mod escape;\n",
            "text/escape.rs": "//! e\npub fn write() { crate::a::f() }\n",
            # An item path resolves to the deepest module file: text/escape.rs.
            "a.rs": "//! a\npub fn f() { crate::text::escape::write() }\n",
            "b.rs": "//! b\nuse crate::c;\npub fn g() { c::h() }\n",
            "c.rs": "//! c\npub fn h() { let _ = crate::b::g; }\n",
        }
    )
    assert crate.edges["a.rs"].keys() == {"text/escape.rs"}
    assert crate.cycles() == [
        ["a.rs", "text/escape.rs", "a.rs"],
        ["b.rs", "c.rs", "b.rs"],
    ]


def test_resolver_ignores_test_modules_comments_and_strings() -> None:
    crate = Crate(
        {
            "lib.rs": "//! root\npub mod a;\npub mod b;\n",
            "a.rs": "//! a\npub fn f() {}\n",
            "b.rs": (
                "//! b uses crate::a::f in prose only\n"
                "use crate::a::f;\n"
                "pub fn g() { let _ = \"crate::a::nothing\"; let _ = 'x'; }\n"
            ),
        }
    )
    assert crate.cycles() == []
    # A use inside a test module (inline, or a file declared under cfg(test)) is ignored.
    crate = Crate(
        {
            "lib.rs": "//! root\npub mod a;\npub mod b;\n",
            "a.rs": (
                "//! a\n// use crate::b;\n/* crate::b::g() */\npub fn f() {}\n"
                "#[cfg(test)]\nmod tests {\n    use crate::b::g;\n    fn t() { g(); }\n}\n"
                "#[cfg(all(test, not(loom)))]\nmod more;\n"
            ),
            "a/more.rs": "//! tests\nuse crate::b::g;\n",
            "b.rs": "//! b\nuse crate::a::f;\npub fn g() { f() }\n",
        }
    )
    assert crate.edges["a.rs"] == {}
    assert crate.test_only == {"a/more.rs"}
    assert crate.cycles() == []
    assert crate.files["a.rs"].lines_before_tests == 4


def test_resolver_reads_use_trees_aliases_and_inline_modules() -> None:
    assert expand_use_tree("crate::{a::{self, B as C}, d::*}") == [
        (["crate", "a"], None),
        (["crate", "a", "B"], "C"),
        (["crate", "d", "*"], None),
    ]
    crate = Crate(
        {
            "lib.rs": "//! root\npub mod a;\npub mod b;\npub mod c;\n",
            "a.rs": "//! a\nuse crate::b as other;\nfn f() { other::g() }\n",
            "b.rs": "//! b\npub fn g() {}\nmod inner {\n    use super::super::c;\n}\n",
            "c.rs": "//! c\npub(in crate::a) fn h() {}\n",
        }
    )
    assert crate.edges["a.rs"].keys() == {"b.rs"}
    # `super::super` inside `b::inner` is the crate root: `c` there is c.rs.
    assert crate.edges["b.rs"].keys() == {"c.rs"}
    assert crate.edges["c.rs"] == {}


def test_cfg_predicates_that_hold_only_in_tests() -> None:
    assert is_test_cfg("test")
    assert is_test_cfg("all(test, not(loom))")
    assert not is_test_cfg("not(test)")
    assert not is_test_cfg('any(test, feature = "fuzzing")')
    assert not is_test_cfg("loom")


def test_design_map_parser() -> None:
    design = (
        "# Design\n\nIntro.\n\n## Crate map\n\n"
        "- `rust/lib.rs` — the module list — uses `alloc.rs`\n"
        "- `rust/alloc.rs` — the allocator — a — b — uses nothing in the crate\n"
        "\n## Buffer\n- not a map line\n"
    )
    assert crate_map(design) == {
        "lib.rs": ("the module list", "uses `alloc.rs`"),
        "alloc.rs": ("the allocator — a — b", "uses nothing in the crate"),
    }
    assert allowed_uses("`trace/`, `event.rs`") == ["trace/", "event.rs"]
    with pytest.raises(AssertionError, match="first section must be"):
        crate_map("# Design\n\n## Buffer\n")
    with pytest.raises(AssertionError, match="crate map line not"):
        crate_map("# Design\n\n## Crate map\n- `rust/lib.rs` — no uses column\n")
    with pytest.raises(AssertionError, match="listed twice"):
        crate_map("# Design\n\n## Crate map\n" + "- `rust/a.rs` — a — uses nothing\n" * 2)


def test_lexer_blanks_comments_and_literals_but_keeps_lifetimes() -> None:
    source = (
        "fn f<'a>(x: &'a str) -> char { // crate::a\n"
        '    let _ = r#"crate::b "quoted""#; /* crate::c /* nested */ still */\n'
        "    let _ = b\"crate::d\\\"\"; let _ = '\"'; let _ = '\\''; 'outer: loop {}\n"
        "    crate::e::g() }\n"
    )
    code = strip_comments_and_literals(source)
    assert code.count("\n") == source.count("\n")
    assert len(code) == len(source)
    assert re.findall(r"crate::\w+", code) == ["crate::e"]
    assert "<'a>" in code and "&'a str" in code and "'outer:" in code
