"""The hazard log names, for each mitigation, the test that fails without it: those tests exist."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LOG = ROOT / "docs" / "clinical-safety" / "hazard-log.md"
NODE_ID = re.compile(r"`(api_tests/[\w/]+\.py::[\w:]+)(?:\[[^\]`]*\])?`")


def _rows() -> list[str]:
    return [line for line in LOG.read_text().splitlines() if re.match(r"\| HW-\d+ \|", line)]


def _defined(path: Path, dotted: list[str]) -> bool:
    """Whether `Class::method` or `function` is defined at the top of the module."""
    body: list[ast.stmt] = ast.parse(path.read_text()).body
    for part in dotted:
        found = next(
            (
                node
                for node in body
                if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
                and node.name == part
            ),
            None,
        )
        if found is None:
            return False
        body = found.body if isinstance(found, ast.ClassDef) else []
    return True


def test_every_hazard_names_a_mitigation_and_a_test():
    rows = _rows()
    assert len(rows) >= 10
    for row in rows:
        cells = [c.strip() for c in row.strip("|").split("|")]
        assert len(cells) == 6, row
        assert cells[3] and NODE_ID.search(cells[4]), row


def test_every_node_id_the_log_names_exists():
    missing = []
    for row in _rows():
        for node in NODE_ID.findall(row):
            file, *dotted = node.split("::")
            path = ROOT / file
            if not path.exists() or not _defined(path, dotted):
                missing.append(node)
    assert missing == []


def test_a_node_id_that_does_not_exist_is_noticed(tmp_path):
    fake = tmp_path / "test_x.py"
    fake.write_text("def test_here():\n    pass\n")
    assert _defined(fake, ["test_here"])
    assert not _defined(fake, ["test_gone"])
