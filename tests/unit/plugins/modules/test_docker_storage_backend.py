# -*- coding: utf-8 -*-
# Copyright: cow.storage contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The module's thin layer: parameters are normalised, layers are
counted. Behaviour is proven on a real engine (molecule/migration), not with a mocked run_command."""

from __future__ import annotations


from ansible_collections.cow.storage.plugins.module_utils._docker import host as dd
from ansible_collections.cow.storage.plugins.modules import docker_storage_backend as mod

__metaclass__ = type  # pylint: disable=invalid-name


def test_normalise():
    params = mod.normalise({"data_root": "/srv//docker/", "options": {" Overlay2.Size ": " 10G"}})
    assert params["data_root"] == "/srv/docker"
    assert params["options"] == {"overlay2.size": "10G"}
    assert mod.normalise({"data_root": None, "options": None})["options"] is None


def test_count_layers(tmp_path):
    (tmp_path / "vfs" / "dir" / "a").mkdir(parents=True)
    (tmp_path / "vfs" / "dir" / "b").mkdir()
    assert dd.count_layers("vfs", str(tmp_path / "vfs"), ["dir"]) == 2
    assert dd.count_layers("overlay2", str(tmp_path / "overlay2"), ["l"]) == 0
    assert dd.count_layers("btrfs", str(tmp_path / "btrfs"), ["subvolumes"]) == 0
