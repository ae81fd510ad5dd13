"""The docs cite tests as evidence (RELIABILITY's and CHECKS' "test" columns, ARCHITECTURE's
table, README): every test they name exists, so a renamed or removed test cannot leave a promise
backed by nothing."""

from __future__ import annotations

import ast
import re
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TESTS = ROOT / "meridian_assets_tests"
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
# `[path/]test_file.py[::test_name][[param]]`, or a bare `test_name` in backticks.
CITATION = re.compile(r"`((?:[\w/]+/)?(test_\w+)\.py)?(?:::)?(test_\w+)?(\[[^\]`]+\])?`")


@cache
def defined_tests(path: Path) -> frozenset[str]:
    tree = ast.parse(path.read_text())
    return frozenset(n.name for n in ast.walk(tree) if isinstance(n, ast.FunctionDef) and n.name.startswith("test_"))


def resolve(cited: str) -> list[Path]:
    """The test files a cited path names: a path under meridian_assets_tests/, or a file name."""
    cited = cited.removeprefix("meridian_assets_tests/")
    return [p for p in TESTS.rglob("test_*.py") if p.relative_to(TESTS).as_posix().endswith(cited)
            and (p.relative_to(TESTS).as_posix() == cited or "/" not in cited)]


def citations() -> list[tuple[str, str]]:
    return [(doc.relative_to(ROOT).as_posix(), m.group(0)) for doc in DOCS
            for m in CITATION.finditer(doc.read_text()) if m.group(1) or m.group(3)]


def test_the_docs_cite_tests():
    cited = {doc for doc, _ in citations()}
    assert {"docs/RELIABILITY.md", "docs/CHECKS.md", "docs/ARCHITECTURE.md"} <= cited, cited


@pytest.mark.parametrize(("doc", "citation"), citations())
def test_every_cited_test_exists(doc, citation):
    path, _, name, params = CITATION.fullmatch(citation).groups()
    files = resolve(path) if path else sorted(TESTS.rglob("test_*.py"))
    if path:
        assert len(files) == 1, f"{doc} cites {path}: it names {len(files)} test files"
    if name:
        assert any(name in defined_tests(f) for f in files), f"{doc} cites {citation}: no test {name}"
    if params:
        first = re.split(r"[-\]]", params[1:])[0]
        assert any(first in f.read_text() for f in files), f"{doc} cites {citation}: no case {first}"
