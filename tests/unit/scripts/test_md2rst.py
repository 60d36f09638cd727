# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""scripts/md2rst.py: the docs site's pages written from docs/*.md, checked by docutils itself."""

from __future__ import annotations

import importlib.util
import pathlib

import docutils.core
import pytest

ROOT = pathlib.Path(__file__).resolve().parents[3]
SPEC = importlib.util.spec_from_file_location("md2rst", ROOT / "scripts" / "md2rst.py")
md2rst = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(md2rst)

PAGE = """# A page: `code`, **strong**

A paragraph with `code`s glued to a word, a task "name with \\"quotes\\"", snake_case_ and a|pipe,
2*3*4, *emphasis*, [a URL](https://docs.docker.com/), [the lab](lab.md), [a file](../molecule/x.yml), numbers
7. wrapped to a line's start and ![a chart](images/chart.png).

## A table

| # | case | where |
|---|---|---|
| 1 | `a | b` inside code, `size: ` with a space | `tests/unit/x.py::test_y` |

## Lists

- one item
  continued on an indented line
  - a nested item
- back out
1. first
2. second

```yaml
key: value
```
"""


def render(rst):
    """docutils' own reading of the page: the warnings it reports (the docs site builds with -W)."""
    rst = rst.replace(":ref:", ":literal:")  # Sphinx's role, unknown to plain docutils
    out = docutils.core.publish_doctree(rst, settings_overrides={"report_level": 2, "halt_level": 5, "warning_stream": False})
    return [n.astext() for n in out.findall() if n.tagname == "system_message"]


def test_every_construct_converts_to_rst_docutils_reads_without_a_warning():
    rst = md2rst.convert(PAGE, "sample")
    assert ".. _ansible_collections.cow.storage.docsite.sample:" in rst
    assert "``code``\\ s glued" in rst
    assert 'task "name with "quotes""' in rst
    assert "snake\\_case\\_ and a\\|pipe" in rst
    assert "`a URL <https://docs.docker.com/>`__" in rst
    assert ":ref:`the lab <ansible_collections.cow.storage.docsite.lab>`" in rst
    assert "a file (``molecule/x.yml``)" in rst
    assert "(image: a chart)" in rst and "numbers 7. wrapped to a line's start" in rst
    assert "     - ``a | b`` inside code, ``size:`` with a space" in rst
    assert "- one item continued on an indented line\n\n  - a nested item\n\n- back out" in rst
    assert "#. first\n#. second" in rst
    assert ".. code-block:: yaml\n\n   key: value" in rst
    assert render(rst) == []


@pytest.mark.parametrize("text, why", [
    ("| a | b |\n| c | d |\n", "a table needs a header row"),
    ("| a | b |\n|---|---|\n| c |\n", "a table row has 1 cells, its header 2"),
    ("```\nnever closed\n", "a code block is not closed"),
    ("> a quote\n", "indented text, quotes and HTML"),
])
def test_markdown_outside_the_subset_fails_naming_the_line(text, why):
    with pytest.raises(SystemExit, match="docs/sample.md line 1: " + why.replace("|", "\\|")):
        md2rst.convert(text, "sample")


def test_the_shipped_pages_match_their_markdown():
    assert md2rst.main(["--check"]) == 0
