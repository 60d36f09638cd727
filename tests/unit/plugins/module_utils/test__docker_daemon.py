# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Parsers of engine and kernel storage facts, against output captured from real tools."""

from __future__ import annotations

import json
import os

import pytest

from ansible_collections.cow.storage.plugins.module_utils import _docker_daemon as dd

FIX = os.path.join(os.path.dirname(__file__), "..", "..", "fixtures", "docker")


def fixture(name):
    with open(os.path.join(FIX, name), encoding="utf-8") as f:
        return f.read()


def test_docker_info_overlay2_on_ext4():
    facts = dd.parse_docker_info(fixture("info-20.10-overlay2.json"))
    assert facts["version"] == "20.10.24+dfsg1"
    assert facts["driver"] == "overlay2"
    assert facts["image_store"] == "graphdriver"
    assert facts["backing_filesystem"] == "extfs"
    assert facts["d_type"] is True
    assert facts["data_root"].endswith("/engine/data")
    assert facts["containers"] == 3


def test_docker_info_containerd_snapshotter_is_recognised():
    info = json.loads(fixture("info-20.10-overlay2.json"))
    info["Driver"] = "overlayfs"
    info["DriverStatus"] = [["driver-type", "io.containerd.snapshotter.v1"]]
    facts = dd.parse_docker_info(json.dumps(info))
    assert facts["image_store"] == "containerd"
    assert facts["d_type"] is None
    assert facts["backing_filesystem"] is None


def test_docker_info_without_a_server_has_no_version():
    facts = dd.parse_docker_info(fixture("info-no-server.json"))
    assert facts["version"] is None
    assert facts["running"] is False


def test_proc_filesystems():
    names = dd.parse_proc_filesystems(fixture("proc-filesystems.txt"))
    for fs in ("overlay", "btrfs", "xfs", "ext4", "tmpfs"):
        assert fs in names
    assert "nodev" not in names
    assert names == sorted(names)


def test_blkid_export():
    ids = dd.parse_blkid_export(fixture("blkid-btrfs.txt"))
    assert ids["TYPE"] == "btrfs"
    assert ids["DEVNAME"] == "/dev/vdb"
    assert len(ids["UUID"]) == 36


@pytest.mark.parametrize("text,expected", [
    ("", "/var/lib/docker"),
    ("  \n", "/var/lib/docker"),
    ('{"storage-driver": "overlay2"}', "/var/lib/docker"),
    ('{"data-root": "/srv/docker"}', "/srv/docker"),
])
def test_data_root_from_config(text, expected):
    assert dd.data_root_from_config(text) == expected


def test_data_root_from_invalid_config_raises():
    with pytest.raises(ValueError):
        dd.data_root_from_config("{not json")
