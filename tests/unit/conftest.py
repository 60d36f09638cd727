# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Make ``ansible_collections.cow.storage`` importable from a plain checkout.

ansible-test runs units from inside an ``ansible_collections/cow/storage`` tree,
where this is not needed; plain ``pytest tests/unit`` from the checkout uses
``.cache/collections`` (made by ``make deps``), which links the checkout as
cow.storage.

Also the one reader of captured fixtures, :func:`fixture`.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
FIXTURES = os.path.join(HERE, "fixtures")


def fixture(name):
    """The text of a captured fixture, by its path under ``tests/unit/fixtures`` (``lvm/vgs_captured_one_pv.json``).

    Test modules use it with ``from ansible_collections.cow.storage.tests.unit.conftest import fixture`` (the name
    that resolves both under plain pytest and under ansible-test units)."""
    with open(os.path.join(FIXTURES, name), encoding="utf-8") as handle:
        return handle.read()


if os.path.basename(os.path.dirname(os.path.dirname(ROOT))) != "ansible_collections":
    sys.path.insert(0, os.path.join(ROOT, ".cache", "collections"))


@pytest.fixture
def private_tmp():
    """A temporary directory whose whole chain only this user controls, for the lock, the journal and the migration
    archive, which refuse a directory another user could write to (``tmp_path`` lies under the world-writable /tmp).
    """
    base = os.path.join(os.path.expanduser("~"), ".cache", "cow-storage-tests")
    os.makedirs(base, 0o700, exist_ok=True)
    path = tempfile.mkdtemp(dir=base)
    yield path
    shutil.rmtree(path, ignore_errors=True)
