# -*- coding: utf-8 -*-
# Copyright: cow.storage contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""ZFS parsers (fixtures captured on the VM lab host of molecule/zfs, see fixtures/zfs/README.md) and the pool planner (no mocks)."""

from __future__ import annotations

import copy
import os

import pytest

from ansible_collections.cow.storage.plugins.module_utils import _zfs as Z
from ansible_collections.cow.storage.plugins.module_utils._errors import Refusal

FIX = os.path.join(os.path.dirname(__file__), "..", "..", "fixtures", "zfs")
DEV = "/dev/disk/by-id/virtio-data1"


def fixture(name):
    with open(os.path.join(FIX, name), encoding="utf-8") as handle:
        return handle.read()


# ---------------------------------------------------------------- parsers

def test_parse_zpool_status_captured_two_pools():
    pools = Z.parse_zpool_status(fixture("zpool_status_captured_two_pools.txt"))
    assert pools == {"docker": ["/dev/vdb1"], "scratch": ["/dev/vdc1"]}


def test_parse_zpool_status_no_pools():
    assert Z.parse_zpool_status("no pools available\n") == {}


def test_parse_zfs_get_captured():
    props = Z.parse_zfs_get(fixture("zfs_get_captured_data_root.txt"))
    assert props == {"mountpoint": "/var/lib/docker", "mounted": "yes", "atime": "off", "compression": "lz4"}


# ---------------------------------------------------------------- planner

PARAMS = {"name": "docker", "devices": [DEV], "wipe_signatures": False, "ashift": 12, "dataset": "docker",
          "mountpoint": "/var/lib/docker", "properties": {"compression": "lz4", "atime": False}}


def fresh():
    return {
        "zfs_loaded": True,
        "devices": {DEV: {"path": DEV, "exists": True, "is_block": True, "real": "/dev/vdb", "disk": "/dev/vdb",
                          "mounted": [], "holders": [], "signatures": [], "pool": None}},
        "mountpoint": {"path": "/var/lib/docker", "exists": False, "is_dir": False, "entries": []},
        "pool": {"exists": False, "disks": []},
        "dataset": {"exists": False, "properties": {}},
    }


def converged():
    current = fresh()
    current["pool"] = {"exists": True, "disks": ["/dev/vdb"]}
    current["devices"][DEV]["pool"] = "docker"
    current["dataset"] = {"exists": True, "properties": {"mountpoint": "/var/lib/docker", "mounted": "yes",
                                                         "compression": "lz4", "atime": "off"}}
    current["mountpoint"] = {"path": "/var/lib/docker", "exists": True, "is_dir": True, "entries": ["zfs"],
                             "mounted_fs": {"source": "docker/docker", "fstype": "zfs"}}
    return current


def kinds(actions):
    return [a.kind for a in actions]


def test_fresh_device_pool_and_dataset_without_force():
    actions = Z.plan(fresh(), PARAMS)
    assert kinds(actions) == ["create_pool", "create_dataset"]
    assert Z.create_pool_argv(actions[0].args) == ["zpool", "create", "-o", "ashift=12", "-O", "mountpoint=none", "docker", DEV]
    assert Z.create_dataset_argv(actions[1].args) == ["zfs", "create", "-o", "mountpoint=/var/lib/docker", "-o", "atime=off",
                                                      "-o", "compression=lz4", "docker/docker"]


def test_converged_is_a_no_op():
    assert Z.plan(converged(), PARAMS) == []


def test_signature_refused_without_wipe_and_forced_only_with_it():
    current = fresh()
    current["devices"][DEV]["signatures"] = [{"type": "ext4", "offset": "0x438", "uuid": "u", "label": None}]
    with pytest.raises(Refusal, match=r"^wipe_signatures: .*ext4 at 0x438"):
        Z.plan(current, PARAMS)
    actions = Z.plan(current, dict(PARAMS, wipe_signatures=True))
    assert kinds(actions) == ["wipe_signatures", "create_pool", "create_dataset"]
    assert Z.create_pool_argv(actions[1].args)[:3] == ["zpool", "create", "-f"]


@pytest.mark.parametrize("key,value,message", [
    ("mounted", ["/mnt"], r"^devices: .* is mounted on /mnt"),
    ("holders", ["dm-0 holds vdb"], r"^devices: .* in use by dm-0"),
    ("pool", "tank", r"^devices: .* imported pool tank"),
    ("exists", False, r"^devices: .* does not exist"),
    ("is_block", False, r"^devices: .* not a block device"),
])
def test_devices_in_use_refused_even_with_wipe(key, value, message):
    current = fresh()
    current["devices"][DEV][key] = value
    with pytest.raises(Refusal, match=message):
        Z.plan(current, dict(PARAMS, wipe_signatures=True))


def test_data_root_holding_data_refused_before_the_wipe():
    current = fresh()
    current["devices"][DEV]["signatures"] = [{"type": "ext4", "offset": "0x438", "uuid": "u", "label": None}]
    current["mountpoint"] = {"path": "/var/lib/docker", "exists": True, "is_dir": True, "entries": ["overlay2", "image"]}
    with pytest.raises(Refusal, match=r"^mountpoint: /var/lib/docker holds 2 entries \(image, overlay2\)"):
        Z.plan(current, dict(PARAMS, wipe_signatures=True))


def test_data_root_that_is_another_mount_refused():
    current = fresh()
    current["mountpoint"] = {"path": "/var/lib/docker", "exists": True, "is_dir": True, "entries": [],
                             "mounted_fs": {"source": "/dev/vdc", "fstype": "xfs"}}
    with pytest.raises(Refusal, match=r"^mountpoint: /var/lib/docker is already a mount of /dev/vdc \(xfs\)"):
        Z.plan(current, PARAMS)


def test_pool_on_other_devices_refused():
    current = converged()
    current["pool"]["disks"] = ["/dev/vdc"]
    with pytest.raises(Refusal, match=r"^devices: pool docker exists on /dev/vdc"):
        Z.plan(current, PARAMS)


def test_dataset_mounted_elsewhere_refused():
    current = converged()
    current["dataset"]["properties"]["mountpoint"] = "/srv/docker"
    with pytest.raises(Refusal, match=r"^mountpoint: dataset docker/docker is mounted on /srv/docker"):
        Z.plan(current, PARAMS)


def test_properties_converge_and_unmounted_dataset_is_mounted():
    current = converged()
    current["dataset"]["properties"].update(compression="off", mounted="no")
    current["mountpoint"] = {"path": "/var/lib/docker", "exists": True, "is_dir": True, "entries": []}
    actions = Z.plan(current, PARAMS)
    assert kinds(actions) == ["set_property", "mount_dataset"]
    assert actions[0].args == {"name": "docker/docker", "property": "compression", "value": "lz4"}


def test_module_not_loaded_refused():
    current = fresh()
    current["zfs_loaded"] = False
    with pytest.raises(Refusal, match=r"^name: the zfs kernel module is not loaded"):
        Z.plan(current, PARAMS)


@pytest.mark.parametrize("change,message", [
    ({"devices": []}, r"^devices: give at least one"),
    ({"devices": ["vdb"]}, r"^devices: vdb is not an absolute"),
    ({"mountpoint": "var/lib/docker"}, r"^mountpoint: .* not an absolute"),
    ({"name": "a/b"}, r"^name: "),
    ({"name": "spare"}, r"^name: 'spare' is reserved"),
    ({"name": "mirror1"}, r"^name: 'mirror1' is reserved"),
    ({"name": "1pool"}, r"^name: "),
    ({"dataset": "x@y"}, r"^dataset: "),
    ({"properties": {"mountpoint": "/x"}}, r"^properties: give the mountpoint"),
])
def test_bad_parameters(change, message):
    with pytest.raises(Refusal, match=message):
        Z.plan(fresh(), dict(PARAMS, **change))


def test_predict_matches_what_describe_reads_after_the_run():
    params = PARAMS
    current = fresh()
    actions = Z.plan(current, params)
    predicted = Z.predict(Z.describe(current, params), actions, current, params)
    assert predicted == Z.describe(converged(), params)
    before = copy.deepcopy(current)
    Z.predict(Z.describe(current, params), actions, current, params)
    assert current == before


def test_docker_layer_datasets_in_destroy_order():
    a, b, c = "a" * 64, "b" * 64, "c" * 64
    text = ("docker/docker\t-\n"
            "docker/docker/%s\t-\n"
            "docker/docker/%s-init\tdocker/docker/%s@123\n"
            "docker/docker/%s\tdocker/docker/%s-init@456\n"
            "docker/docker/notalayer\t-\n"
            "docker/other/%s\t-\n") % (a, b, a, b, b, c)
    assert Z.docker_layer_datasets(text, "docker/docker") == [
        "docker/docker/" + a, "docker/docker/" + b, "docker/docker/%s-init" % b]
    assert Z.docker_layer_datasets("", "docker/docker") == []
