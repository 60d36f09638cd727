# -*- coding: utf-8 -*-
# Copyright: cow.storage contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Parsers and size parsing, against output captured from Debian 12's btrfs-progs 6.2."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest
from ansible_collections.cow.storage.tests.unit.conftest import fixture

from ansible_collections.cow.storage.plugins.module_utils import _btrfs as b
from ansible_collections.cow.storage.plugins.module_utils._mountinfo import parse_mountinfo


def test_subvolume_show_subvolume_with_snapshots():
    info = b.parse_subvolume_show(fixture("btrfs/subvolume_show_sv1.txt"))
    assert info["id"] == 256
    assert info["name"] == "sv1"
    assert info["uuid"] == "f444f5b1-186e-f448-b265-be237f18c8e5"
    assert info["parent_uuid"] is None
    assert info["received_uuid"] is None
    assert info["top_level"] == 5
    assert info["parent_id"] == 5
    assert info["generation"] == 8
    assert info["generation_at_creation"] == 7
    assert info["readonly"] is False
    assert info["snapshots"] == ["snap_ro", "snap_rw"]
    assert info["qgroup"] is None


def test_subvolume_show_readonly_snapshot():
    info = b.parse_subvolume_show(fixture("btrfs/subvolume_show_snap_ro.txt"))
    assert info["id"] == 258
    assert info["readonly"] is True
    assert info["flags"] == ["readonly"]
    assert info["parent_uuid"] == "f444f5b1-186e-f448-b265-be237f18c8e5"
    assert info["snapshots"] == []


def test_subvolume_show_toplevel():
    info = b.parse_subvolume_show(fixture("btrfs/subvolume_show_toplevel.txt"))
    assert info["id"] == 5
    assert info["name"] == "<FS_TREE>"
    assert info["top_level"] == 0


def test_subvolume_show_with_quota_raw():
    info = b.parse_subvolume_show(fixture("btrfs/subvolume_show_sv1_quota.txt"))
    assert info["qgroup"] == {"qgroupid": "0/256", "max_referenced": 104857600, "max_exclusive": None,
                              "referenced": 5259264, "exclusive": 5259264}
    assert info["snapshots"] == ["snap_ro", "snap_rw"]


def test_subvolume_list():
    entries = b.parse_subvolume_list(fixture("btrfs/subvolume_list_puqRg.txt"))
    assert [e["id"] for e in entries] == [256, 257, 258, 259]
    nested = entries[1]
    assert nested == {"id": 257, "gen": 7, "parent": 256, "top_level": 256, "parent_uuid": None, "received_uuid": None,
                      "uuid": "89a5497a-0e93-a044-a451-7644ba67420c", "path": "sv1/nested"}
    assert entries[2]["parent_uuid"] == "f444f5b1-186e-f448-b265-be237f18c8e5"


def test_subvolume_list_short_form():
    assert b.parse_subvolume_list(fixture("btrfs/subvolume_list_o_sv1.txt")) == [{"id": 257, "gen": 7, "top_level": 256, "path": "sv1/nested"}]


def test_descendants_deepest_first():
    entries = [
        {"id": 256, "parent": 5, "path": "a"},
        {"id": 257, "parent": 256, "path": "a/b"},
        {"id": 258, "parent": 257, "path": "a/b/c"},
        {"id": 259, "parent": 256, "path": "a/d"},
        {"id": 260, "parent": 5, "path": "e"},
    ]
    assert b.descendants(entries, 256) == [258, 257, 259]
    assert b.descendants(entries, 260) == []
    assert b.descendants(b.parse_subvolume_list(fixture("btrfs/subvolume_list_puqRg.txt")), 256) == [257]


def test_qgroup_show():
    groups = b.parse_qgroup_show(fixture("btrfs/qgroup_show_raw_re.txt"))
    assert sorted(groups) == ["0/256", "0/257", "0/258", "0/259", "0/5"]
    assert groups["0/256"] == {"qgroupid": "0/256", "referenced": 5259264, "exclusive": 5259264,
                               "max_referenced": 104857600, "max_exclusive": None, "path": "sv1"}
    assert groups["0/259"]["max_exclusive"] == 52428800
    assert groups["0/5"]["path"] == "<toplevel>"


def test_qgroup_disabled():
    assert fixture("btrfs/qgroup_show_disabled.stdout") == ""
    assert b.quotas_disabled(fixture("btrfs/qgroup_show_disabled.stderr"))
    assert not b.quotas_disabled("ERROR: cannot access '/x': No such file or directory")


def test_property_get():
    assert b.parse_property_get(fixture("btrfs/property_get_ro_true.txt")) == {"ro": "true"}
    assert b.parse_property_get(fixture("btrfs/property_get_ro_false.txt")) == {"ro": "false"}


def test_get_default():
    assert b.parse_get_default(fixture("btrfs/get_default_toplevel.txt")) == 5
    assert b.parse_get_default(fixture("btrfs/get_default_sv1.txt")) == 256
    with pytest.raises(ValueError):
        b.parse_get_default("")


def test_mounted_subvolumes():
    mounts = parse_mountinfo(fixture("btrfs/mountinfo.txt"))
    assert b.mounted_subvolumes(mounts, "0:39") == {5: ["/tmp/bsvmnt"], 256: ["/tmp/bsvsub"]}


def test_subvolume_show_raw_without_quota_has_no_qgroup():
    info = b.parse_subvolume_show(fixture("btrfs/subvolume_show_sv1_noquota.txt"))
    assert info["id"] == 256 and info["qgroup"] is None


def test_subvolume_show_human_units_are_not_taken_for_bytes():
    info = b.parse_subvolume_show(fixture("btrfs/subvolume_show_snap_rw_quota_human.txt"))
    assert info["qgroup"]["qgroupid"] == "0/259"
    assert not isinstance(info["qgroup"]["max_exclusive"], int)


def test_subvolume_show_error_text_parses_to_nothing():
    info = b.parse_subvolume_show(fixture("btrfs/subvolume_show_notsubvol.txt"))
    assert "id" not in info


def test_list_from_a_subvol_mount_keeps_parent_ids():
    entries = b.parse_subvolume_list(fixture("btrfs/subvolume_list_puqRg_from_subvol_mount.txt"))
    assert [e["path"] for e in entries] == ["sv1", "nested", "snap_ro", "snap_rw"]
    assert b.descendants(entries, 256) == [257]


def _kernel_has_btrfs():
    with open("/proc/filesystems", encoding="utf-8") as handle:
        return "btrfs" in handle.read()


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("mkfs.btrfs") or not _kernel_has_btrfs(),
                    reason="needs root, btrfs-progs and a kernel with btrfs")
def test_subvolumes_under_finds_nested_subvolumes_deepest_first_on_a_real_btrfs(private_tmp):
    image, mnt = os.path.join(private_tmp, "img"), os.path.join(private_tmp, "mnt")
    with open(image, "wb") as handle:
        handle.truncate(128 << 20)
    subprocess.run(["mkfs.btrfs", "-q", image], check=True)
    os.mkdir(mnt)
    subprocess.run(["mount", "-o", "loop", image, mnt], check=True)  # -o loop: the loop device clears itself
    try:
        layers = os.path.join(mnt, "btrfs", "subvolumes")
        os.makedirs(layers)
        for name in ("a", "b"):
            subprocess.run(["btrfs", "-q", "subvolume", "create", os.path.join(layers, name)], check=True)
        subprocess.run(["btrfs", "-q", "subvolume", "create", os.path.join(layers, "a", "inner")], check=True)
        os.mkdir(os.path.join(layers, "plain"))
        found = b.subvolumes_under(os.path.join(mnt, "btrfs"))
        assert found == [os.path.join(layers, "a", "inner"), os.path.join(layers, "a"), os.path.join(layers, "b")]
        # what remove_driver_data then does: the subvolumes through their tool, the rest with rm on one filesystem
        for sub in found:
            subprocess.run(["btrfs", "-q", "subvolume", "delete", sub], check=True)
        subprocess.run(["rm", "-rf", "--one-file-system", os.path.join(mnt, "btrfs")], check=True)
        assert os.listdir(mnt) == []
    finally:
        subprocess.run(["umount", mnt], check=True)
