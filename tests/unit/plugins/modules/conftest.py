# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Modules' main() run here with their commands answered from captured output: the host's lock they take
(``/run/cow-storage/lock``) is put in a private temporary directory instead, so no test touches /run."""

from __future__ import annotations

import os

import pytest

from ansible_collections.cow.storage.plugins.module_utils import _runner

__metaclass__ = type  # pylint: disable=invalid-name


@pytest.fixture(autouse=True)
def host_lock_path(monkeypatch, private_tmp):
    path = os.path.join(private_tmp, "run", "lock")
    real = _runner.HostLock
    monkeypatch.setattr(_runner, "HostLock", lambda name: real(name, path=path))
    return path
