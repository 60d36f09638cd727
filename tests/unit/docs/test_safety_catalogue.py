# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""docs/safety-catalogue.md names, for each case, the tests that prove it: every one must exist.

A unit test is ``file.py::function`` (a path under tests/unit, or a file name found once there; ``::function``
alone continues the file before it; ``…`` ends a shortened name, ``[…]`` a parameter set). A molecule test is
``molecule/<scenario>/<file>.yml`` followed by the task names it runs, quoted (``"…"`` inside a name shortens it).
A renamed test or task that the catalogue still cites fails here instead of leaving a case unproven."""

from __future__ import annotations

import os
import re

import pytest

import yaml

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
CATALOGUE = os.path.join(ROOT, "docs", "safety-catalogue.md")
UNIT = os.path.join(ROOT, "tests", "unit")


def read(path):
    with open(path, encoding="utf-8") as handle:
        return handle.read()


def unit_file(name):
    if os.path.isfile(os.path.join(ROOT, name)):
        return os.path.join(ROOT, name)
    found = [os.path.join(d, f) for d, dummy, files in os.walk(UNIT) for f in files
             if os.path.join(d, f).endswith(os.sep + name) or f == name]
    return found[0] if len(found) == 1 else None


def task_names(path):
    """Every task name in a molecule playbook or task file, blocks included."""
    names, todo = [], [yaml.safe_load(read(path))]
    while todo:
        node = todo.pop()
        if isinstance(node, list):
            todo.extend(node)
        elif isinstance(node, dict):
            if isinstance(node.get("name"), str):
                names.append(node["name"])
            todo.extend(v for v in node.values() if isinstance(v, (list, dict)))
    return names


def references():
    """(row, kind, file, name) for every test the catalogue cites, in its order."""
    refs = []
    for line in read(CATALOGUE).splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")] if line.startswith("|") else [line]
        where = cells[-1]
        row = cells[0] if line.startswith("|") else line[:40]
        current = None
        for m in re.finditer(r"`([\w./-]*\.py)?::(\w+…?)[^`]*`|`(molecule/[\w-]+/[\w-]+\.yml)`|\"((?:[^\"\\]|\\.)+)\"", where):
            if m.group(2):
                current = m.group(1) or current
                refs.append((row, "unit", current, m.group(2)))
            elif m.group(3):
                current = m.group(3)
            elif m.group(4) and current and current.startswith("molecule/"):
                refs.append((row, "molecule", current, m.group(4).replace('\\"', '"')))
    return refs


REFS = references()


def test_the_catalogue_cites_tests():
    kinds = {ref[1] for ref in REFS}
    assert len(REFS) > 300 and kinds == {"unit", "molecule"}


@pytest.mark.parametrize("row, kind, path, name", REFS, ids=["%s:%s" % (r[0], r[3][:40]) for r in REFS])
def test_each_cited_test_exists(row, kind, path, name):
    if kind == "unit":
        found = unit_file(path)
        assert found, "case %s cites %s, which is not under tests/unit (or not once)" % (row, path)
        pattern = r"^def %s" % re.escape(name.rstrip("…")) + ("" if name.endswith("…") else r"\(")
        assert re.search(pattern, read(found), re.M), "case %s: %s has no %s" % (row, path, name)
        return
    full = os.path.join(ROOT, path)
    assert os.path.isfile(full), "case %s cites %s, which does not exist" % (row, path)
    pattern = re.compile("^" + ".*".join(re.escape(p.strip()) for p in name.split("…")) + "$", re.S)
    names = task_names(full)
    assert any(pattern.match(n) for n in names), "case %s: %s has no task named %r" % (row, path, name)
