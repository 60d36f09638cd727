# -*- coding: utf-8 -*-
# Copyright: cow.storage contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The thin pools the engines' configuration files name (Docker's daemon.json, containerd's config.toml), from
captured files and files written here (no mocks)."""

from __future__ import annotations

from ansible_collections.cow.storage.plugins.module_utils import _pools_in_use as C
from ansible_collections.cow.storage.tests.unit.conftest import fixture as _fixture


def fixture(name):
    """The text of tests/unit/fixtures/containerd/<name>."""
    return _fixture("containerd/" + name)


def test_thin_pool_of_docker():
    assert C.thin_pool_of_docker('{"storage-opts": ["dm.thinpooldev=/dev/mapper/docker-thinpool", "dm.use_deferred_removal=true"]}') \
        == "docker-thinpool"
    assert C.thin_pool_of_docker('{"storage-driver": "overlay2"}') is None
    assert C.thin_pool_of_docker("not json") is None
    assert C.thin_pool_of_docker("") is None


def test_dm_pool_name():
    assert C.dm_pool_name("/dev/mapper/docker-thinpool") == "docker-thinpool"
    assert C.dm_pool_name("/dev/docker/thinpool") == "docker-thinpool"
    assert C.dm_pool_name("/dev/my-vg/thin-pool") == "my--vg-thin--pool"
    assert C.dm_pool_name("containerd-thinpool") == "containerd-thinpool"
    assert C.dm_pool_name("") is None and C.dm_pool_name(None) is None


def test_pools_in_use_docker_and_containerd():
    docker = '{"storage-driver": "devicemapper", "storage-opts": ["dm.thinpooldev=/dev/docker/thinpool"]}'
    users, errors = C.pools_in_use(docker, fixture("config-debian12-configured.toml"))
    assert errors == []
    assert users == [
        {"pool": "docker-thinpool", "engine": "Docker", "path": "/etc/docker/daemon.json", "key": "storage-opts dm.thinpooldev"},
        {"pool": "containerd-thinpool", "engine": "containerd", "path": "/etc/containerd/config.toml",
         "key": '[plugins."io.containerd.snapshotter.v1.devmapper"] pool_name'},
    ]
    # the packaged file and containerd's default configure no devmapper pool
    assert C.pools_in_use(None, fixture("config-debian12.toml")) == ([], [])
    assert C.pools_in_use("", fixture("config-default-1.6.toml")) == ([], [])


def test_pools_in_use_version_1_file_uses_the_short_table_name():
    v1 = '[plugins.devmapper]\n  pool_name = "ctr-pool"\n'
    assert C.pools_in_use(None, v1)[0][0]["key"] == "[plugins.devmapper] pool_name"
    # containerd reads [plugins.devmapper] only in a version 1 file
    assert C.pools_in_use(None, "version = 2\n" + v1) == ([], [])


def test_pools_in_use_unparsable_files_are_errors_naming_the_parameter():
    users, errors = C.pools_in_use("{nope", "version = = 2", docker_path="/d.json", containerd_path="/c.toml")
    assert users == []
    assert errors[0].startswith("docker_config_path: /d.json is not valid JSON")
    assert errors[1].startswith("containerd_config_path: /c.toml is not valid TOML")
    assert C.pools_in_use("[1]", None)[1] == ["docker_config_path: /etc/docker/daemon.json is not a JSON object"]


def test_read_pools_in_use(tmp_path):
    docker, ctr = tmp_path / "daemon.json", tmp_path / "config.toml"
    assert C.read_pools_in_use(str(docker), str(ctr)) == ([], [])  # missing files use nothing
    docker.write_text('{"storage-opts": ["dm.thinpooldev=/dev/mapper/docker-thinpool"]}')
    ctr.mkdir()
    users, errors = C.read_pools_in_use(str(docker), str(ctr))
    assert [u["pool"] for u in users] == ["docker-thinpool"] and users[0]["path"] == str(docker)
    assert errors == ["containerd_config_path: cannot read %s (Is a directory)" % ctr]
