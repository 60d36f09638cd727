# -*- coding: utf-8 -*-
# Copyright: cow.storage contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The thin pool planner of _thinpool on observations built from captured LVM output (fixtures/lvm, no mocks)."""

from __future__ import annotations

import copy

import pytest
from ansible_collections.cow.storage.tests.unit.conftest import fixture

from ansible_collections.cow.storage.plugins.module_utils._errors import Refusal
from ansible_collections.cow.storage.plugins.module_utils import _blockdev as B
from ansible_collections.cow.storage.plugins.module_utils import _lvm as L
from ansible_collections.cow.storage.plugins.module_utils import _thinpool as P

MIB = 1024 * 1024
EXT = 4 * MIB


# ---------------------------------------------------------------- extents

def test_desired_extents():
    assert P.desired_data_extents({"bytes": 10 * MIB}, 100, 100, EXT, 1) == 3
    assert P.desired_data_extents({"percent": 95.0, "of": "VG"}, 1023, 1023, EXT, 1) == 971
    assert P.desired_data_extents({"percent": 100.0, "of": "FREE"}, 1023, 1000, EXT, 2) == 996


# ---------------------------------------------------------------- planner

VG = {"vg_name": "docker", "vg_size": 1023 * EXT, "vg_free": 1023 * EXT, "vg_extent_size": EXT, "vg_extent_count": 1023,
      "vg_free_count": 1023, "pv_count": 1, "lv_count": 0}
POOL = {"vg_name": "docker", "lv_name": "thinpool", "hidden": False, "lv_attr": "twi-a-tz--", "segtype": "thin-pool",
        "lv_size": 971 * EXT, "lv_metadata_size": 16 * EXT, "chunk_size": 512 * 1024, "zero": False, "discards": "passdown",
        "seg_monitor": "monitored", "lv_profile": "docker-thinpool", "pool_lv": None, "origin": None, "data_percent": 1.0,
        "metadata_percent": 10.0, "lv_dm_path": "/dev/mapper/docker-thinpool"}
SPARE = {"vg_name": "docker", "lv_name": "lvol0_pmspare", "hidden": True, "lv_attr": "ewi-------", "segtype": "linear",
         "lv_size": 16 * EXT, "lv_metadata_size": None, "chunk_size": 0, "zero": False, "discards": None, "seg_monitor": "",
         "lv_profile": None, "pool_lv": None, "origin": None, "data_percent": None, "metadata_percent": None, "lv_dm_path": None}
DEV = "/dev/disk/by-id/virtio-data1"
PROFILE_PATH = "/etc/lvm/profile/docker-thinpool.profile"


def params(**kw):
    base = {"vg": "docker", "name": "thinpool", "pvs": [DEV], "size": "95%VG", "metadata_size": "64m", "chunk_size": "512k",
            "zero": False, "discards": None, "autoextend": {"threshold": 80, "percent": 20}, "wipe_signatures": False,
            "force": False, "state": "present"}
    base.update(kw)
    return base


def device(path=DEV, real="/dev/vdb", size=4096 * MIB, signatures=None, exists=True, is_block=True):
    return {"path": path, "exists": exists, "real": real, "is_block": is_block, "size": size, "signatures": signatures or []}


KERNEL_DM = {"device_mapper": True, "targets": L.parse_dmsetup_targets(fixture("lvm/dmsetup_targets_captured_pool_active.txt")),
             "release": "6.1.0-18-amd64"}
KERNEL_NO_DM = {"device_mapper": "device-mapper" in L.parse_proc_misc(fixture("lvm/proc_misc_captured_no_device_mapper.txt")),
                "release": "6.1.0-18-amd64", "proc_misc": "/proc/misc"}


def fresh(**kw):
    """No VG, an empty 4 GiB disk, a kernel with device-mapper and thin-pool."""
    cur = {"kernel": KERNEL_DM, "vg": None, "pvs": {}, "vg_devices": [], "devices": {DEV: device()}, "lvs": [], "pool": None,
           "other_lv": None, "thin_volumes": [], "profile_path": PROFILE_PATH, "profile_text": None}
    cur.update(kw)
    return cur


def existing(pool_changes=None, free=1023 - 971 - 32, **kw):
    pool = dict(POOL, **(pool_changes or {}))
    vg = dict(VG, vg_free_count=free, vg_free=free * EXT)
    cur = fresh(vg=vg, pvs={"/dev/vdb": {"pv_name": "/dev/vdb", "vg_name": "docker", "pv_size": 1023 * EXT}},
                vg_devices=["/dev/vdb"], lvs=[pool, SPARE], pool=pool, profile_text=L.profile_text(80, 20))
    cur.update(kw)
    return cur


def kinds(actions):
    return [a.kind for a in actions]


def test_fresh_disk_creates_vg_profile_and_pool_in_one_lvcreate():
    actions = P.plan(fresh(), params())
    assert kinds(actions) == ["pvcreate", "vgcreate", "write_profile", "create_pool"]
    create = actions[-1].args
    assert create["extents"] == "95%VG" and create["metadata_size"] == 64 * MIB and create["chunk_size"] == 512 * 1024
    assert create["zero"] is False and create["profile"] == "docker-thinpool"
    argv = L.create_pool_argv(create)
    assert argv[:3] == ["lvcreate", "--type", "thin-pool"]
    assert argv.count("lvcreate") == 1
    for flag, value in (("--extents", "95%VG"), ("--poolmetadatasize", "%db" % (64 * MIB)), ("--chunksize", "512k"), ("--zero", "n"),
                        ("--metadataprofile", "docker-thinpool"), ("--monitor", "y")):
        assert argv[argv.index(flag) + 1] == value
    assert argv[-1] == "docker"


def test_absolute_size_is_passed_in_bytes_rounded_to_extents():
    actions = P.plan(fresh(), params(size="10m"))
    argv = L.create_pool_argv(actions[-1].args)
    assert argv[argv.index("--size") + 1] == "%db" % (12 * MIB)


def test_converged_pool_is_left_alone():
    assert not P.plan(existing(), params())


def test_extent_rounding_and_spare_are_not_a_change():
    assert not P.plan(existing({"lv_size": 970 * EXT}), params())
    assert not P.plan(existing({"lv_size": 955 * EXT}), params())   # 971 - 16 (spare)
    assert not P.plan(existing({"lv_size": 10 * MIB + 2 * MIB}), params(size="10m"))


def test_free_percent_is_idempotent_after_creation():
    # 100%FREE of 1023 free extents with 16-extent metadata gave 1023 - 32 = 991 data extents; nothing is free now.
    cur = existing({"lv_size": 991 * EXT}, free=0)
    assert not P.plan(cur, params(size="100%FREE"))


def test_grow_is_lvextend():
    actions = P.plan(existing({"lv_size": 500 * EXT}, free=1023 - 500 - 32), params())
    assert kinds(actions) == ["extend_data"]
    assert actions[0].args["size_bytes"] == 971 * EXT


def test_shrink_refused_naming_size_when_autoextend_off():
    with pytest.raises(Refusal, match="^size: .*cannot shrink"):
        P.plan(existing({"lv_size": 1000 * EXT}, free=0), params(size="50%VG", autoextend={"threshold": 100, "percent": 20}))


def test_larger_pool_with_autoextend_on_is_a_warning_not_a_change():
    cur = existing({"lv_size": 990 * EXT}, free=1)
    assert not P.plan(cur, params(size="50%VG"))
    assert P.shrink_warning(cur, params(size="50%VG")).startswith("size: ")
    assert P.shrink_warning(existing(), params()) is None


def test_size_larger_than_vg_refused():
    with pytest.raises(Refusal, match="^size: .* has only 1023 free"):
        P.plan(fresh(), params(size="10g"))
    with pytest.raises(Refusal, match="^size: "):
        P.plan(existing({"lv_size": 500 * EXT}, free=10), params(size="3g"))


def test_size_required_to_create():
    with pytest.raises(Refusal, match="^size: required"):
        P.plan(fresh(), params(size=None))


@pytest.mark.parametrize("key,value", [("size", "lots"), ("size", "120%VG"), ("metadata_size", "1m"), ("metadata_size", "17g"),
                                       ("chunk_size", "100k"), ("chunk_size", "32k")])
def test_bad_values_name_the_parameter(key, value):
    with pytest.raises(Refusal, match="^%s: " % key):
        P.plan(fresh(), params(**{key: value}))


@pytest.mark.parametrize("auto,key", [({"threshold": 40, "percent": 20}, "autoextend.threshold"), ({"threshold": 80, "percent": 0}, "autoextend.percent")])
def test_bad_autoextend(auto, key):
    with pytest.raises(Refusal, match="^%s: " % key):
        P.plan(fresh(), params(autoextend=auto))


def test_missing_device_refused():
    with pytest.raises(Refusal, match="^pvs: device /dev/nope does not exist"):
        P.plan(fresh(devices={"/dev/nope": device("/dev/nope", exists=False)}), params(pvs=["/dev/nope"]))


def test_not_a_block_device_refused():
    with pytest.raises(Refusal, match="^pvs: .* is not a block device"):
        P.plan(fresh(devices={DEV: device(is_block=False)}), params())


@pytest.mark.parametrize("wipe", [False, True])
def test_a_mounted_or_held_device_is_refused_even_with_wipe_signatures(wipe):
    # issue 26: thinpool probed its devices itself, without the "mounted or held" refusal the other modules have
    mounted = dict(device(signatures=[{"type": "xfs", "offset": "0x0"}]), mounted=["/srv/data"], holders=[])
    with pytest.raises(Refusal, match=r"^pvs: %s \(/dev/vdb\) is mounted on /srv/data; a physical volume is never made" % DEV):
        P.plan(fresh(devices={DEV: mounted}), params(wipe_signatures=wipe))
    held = dict(device(), mounted=[], holders=["md0"])
    with pytest.raises(Refusal, match=r"^pvs: .* is in use by md0"):
        P.plan(fresh(devices={DEV: held}), params(wipe_signatures=wipe))


def test_signature_refused_without_wipe_signatures():
    ext4 = B.parse_wipefs(fixture("lvm/wipefs_captured_ext4.json"))
    with pytest.raises(Refusal, match="^wipe_signatures: .*ext4 at 0x438"):
        P.plan(fresh(devices={DEV: device(signatures=ext4)}), params())


def test_signature_wiped_then_pvcreate_with_wipe_signatures():
    ext4 = B.parse_wipefs(fixture("lvm/wipefs_captured_ext4.json"))
    actions = P.plan(fresh(devices={DEV: device(signatures=ext4)}), params(wipe_signatures=True))
    assert kinds(actions)[:3] == ["wipe_signatures", "pvcreate", "vgcreate"]


def test_foreign_lvm_label_is_a_signature_but_orphan_pv_is_used():
    label = B.parse_wipefs(fixture("lvm/wipefs_captured_lvm2_member.json"))
    with pytest.raises(Refusal, match="^wipe_signatures: .*LVM2_member"):
        P.plan(fresh(devices={DEV: device(signatures=label)}), params())
    orphan = fresh(pvs={"/dev/vdb": {"pv_name": "/dev/vdb", "vg_name": None, "pv_size": 4096 * MIB}})
    assert kinds(P.plan(orphan, params()))[:2] == ["vgcreate", "write_profile"]


def test_pv_of_another_vg_always_refused():
    cur = fresh(pvs={"/dev/vdb": {"pv_name": "/dev/vdb", "vg_name": "other", "pv_size": 4096 * MIB}})
    with pytest.raises(Refusal, match="^pvs: .*volume group other"):
        P.plan(cur, params(wipe_signatures=True))


def test_new_device_extends_the_vg():
    cur = existing()
    cur["devices"]["/dev/disk/by-id/virtio-data2"] = device("/dev/disk/by-id/virtio-data2", real="/dev/vdc", size=2048 * MIB)
    actions = P.plan(cur, params(pvs=[DEV, "/dev/disk/by-id/virtio-data2"]))
    # 95%VG now means 95% of the bigger VG: the pool grows too.
    assert kinds(actions) == ["pvcreate", "vgextend", "extend_data"]
    assert actions[1].args["devices"] == ["/dev/disk/by-id/virtio-data2"]


def test_vg_missing_without_pvs_refused():
    with pytest.raises(Refusal, match="^pvs: volume group docker does not exist"):
        P.plan(fresh(devices={}), params(pvs=[]))


def test_existing_non_pool_lv_refused():
    lv = [lv for lv in L.parse_lvs(fixture("lvm/lvs_captured_linear_named_pool.json")) if lv["lv_name"] == "thinpool"][0]
    with pytest.raises(Refusal, match="^name: docker/thinpool exists and is a linear LV"):
        P.plan(existing(other_lv=lv, pool=None), params())
    with pytest.raises(Refusal, match="^name: "):
        P.plan(existing(other_lv=lv, pool=None), params(state="absent"))


def test_chunk_size_change_refused():
    with pytest.raises(Refusal, match="^chunk_size: .*cannot change"):
        P.plan(existing(), params(chunk_size="64k"))


def test_attribute_convergence():
    cur = existing({"zero": True, "discards": "ignore", "lv_profile": None, "seg_monitor": "not monitored"}, profile_text=None)
    actions = P.plan(cur, params(discards="passdown"))
    assert kinds(actions) == ["write_profile", "set_zero", "set_discards", "attach_profile", "monitor"]


def test_profile_rewritten_when_settings_change():
    actions = P.plan(existing(), params(autoextend={"threshold": 70, "percent": 50}))
    assert kinds(actions) == ["write_profile"]
    assert L.parse_profile(actions[0].args["content"]) == {"threshold": 70, "percent": 50}


def test_metadata_grow_and_shrink():
    assert kinds(P.plan(existing(free=40), params(metadata_size="128m"))) == ["extend_metadata"]
    with pytest.raises(Refusal, match="^metadata_size: .*needs 32 free extents"):
        P.plan(existing(), params(metadata_size="128m"))
    with pytest.raises(Refusal, match="^metadata_size: .*cannot shrink"):
        P.plan(existing(), params(metadata_size="16m"))
    assert not P.plan(existing(), params(metadata_size=None))


def test_absent():
    assert kinds(P.plan(existing(), params(state="absent"))) == ["remove_pool", "remove_profile"]
    assert not P.plan(fresh(), params(state="absent"))
    with pytest.raises(Refusal, match="^force: .*thin1, snap1"):
        P.plan(existing(thin_volumes=["thin1", "snap1"]), params(state="absent"))
    assert kinds(P.plan(existing(thin_volumes=["thin1"]), params(state="absent", force=True))) == ["remove_pool", "remove_profile"]


# ---------------------------------------------------------------- the kernel: device-mapper and thin-pool, before any change

def test_kernel_problem():
    assert P.kernel_problem(KERNEL_DM) is None
    assert "no device-mapper" in P.kernel_problem(KERNEL_NO_DM)
    no_thin = dict(KERNEL_DM, targets=L.parse_dmsetup_targets(fixture("lvm/dmsetup_targets_handwritten_no_thin.txt")))
    assert "no thin-pool target" in P.kernel_problem(dict(no_thin, thin_pool_module=False))
    assert "error, linear, snapshot, snapshot-merge, snapshot-origin, striped" in P.kernel_problem(dict(no_thin, thin_pool_module=False))
    # not loaded yet but loadable: the kernel loads dm-thin-pool itself when lvcreate loads the pool's table
    assert P.kernel_problem(dict(no_thin, thin_pool_module=True)) is None
    assert "could not be listed" in P.kernel_problem(dict(KERNEL_DM, targets=None, targets_error="permission denied"))
    assert "no device-mapper" in P.kernel_problem(None)
    assert "no dm-mod module" in P.kernel_problem(KERNEL_NO_DM)
    unanswered = dict(KERNEL_NO_DM, dm_module=True, targets=None, targets_error="/dev/mapper/control: open failed: No such device")
    assert "did not answer although its dm-mod module is available" in P.kernel_problem(unanswered)
    assert "open failed" in P.kernel_problem(unanswered)


def test_no_device_mapper_refused_before_pvcreate():
    # The reproduction: a fresh disk on a container host; the plan used to start with pvcreate.
    for cur in (fresh(kernel=KERNEL_NO_DM), fresh(kernel=KERNEL_NO_DM, devices={DEV: device(signatures=[])})):
        with pytest.raises(Refusal, match="^state: present .*no device-mapper .*nothing was changed"):
            P.plan(cur, params())
    with pytest.raises(Refusal, match="^state: .*no device-mapper"):
        P.plan(fresh(kernel=KERNEL_NO_DM), params(wipe_signatures=True))


def test_no_thin_pool_target_refused_naming_what_is_missing():
    no_thin = dict(KERNEL_DM, targets=L.parse_dmsetup_targets(fixture("lvm/dmsetup_targets_handwritten_no_thin.txt")), thin_pool_module=False)
    with pytest.raises(Refusal, match="^state: .*no thin-pool target.*dm-thin-pool"):
        P.plan(fresh(kernel=no_thin), params())
    assert kinds(P.plan(fresh(kernel=dict(no_thin, thin_pool_module=True)), params()))[0] == "pvcreate"


def test_absent_without_device_mapper():
    assert not P.plan(fresh(kernel=KERNEL_NO_DM), params(state="absent"))  # nothing to remove: nothing to refuse
    with pytest.raises(Refusal, match="^state: removing thin pool docker/thinpool needs device-mapper"):
        P.plan(existing(kernel=KERNEL_NO_DM), params(state="absent"))


# ---------------------------------------------------------------- pools the engines use

DOCKER_USER = {"pool": "docker-thinpool", "engine": "Docker", "path": "/etc/docker/daemon.json", "key": "storage-opts dm.thinpooldev"}
CTR_USER = {"pool": "docker-thinpool-tpool", "engine": "containerd", "path": "/etc/containerd/config.toml",
            "key": '[plugins."io.containerd.snapshotter.v1.devmapper"] pool_name'}


@pytest.mark.parametrize("user", [DOCKER_USER, CTR_USER])
def test_pool_in_use_not_removed_even_with_force(user):
    cur = existing(engine_users=[user], thin_volumes=["thin1"])
    for force in (False, True):
        with pytest.raises(Refusal) as err:
            P.plan(cur, params(state="absent", force=force))
        msg = str(err.value)
        assert msg.startswith("state: thin pool docker/thinpool is in use") and "even with force" in msg
        assert user["path"] in msg and user["key"] in msg and "nothing was changed" in msg


def test_pool_of_another_name_in_use_is_no_obstacle():
    cur = existing(engine_users=[dict(DOCKER_USER, pool="other-pool")])
    assert kinds(P.plan(cur, params(state="absent"))) == ["remove_pool", "remove_profile"]
    assert P.facts(cur, "docker", "thinpool")["used_by"] == []


def test_pool_in_use_grows_but_is_not_reshaped():
    grow = existing({"lv_size": 500 * EXT}, free=1023 - 500 - 32, engine_users=[DOCKER_USER])
    assert kinds(P.plan(grow, params())) == ["extend_data"]
    assert kinds(P.plan(existing(free=40, engine_users=[DOCKER_USER]), params(metadata_size="128m"))) == ["extend_metadata"]
    with pytest.raises(Refusal, match="^discards: thin pool docker/thinpool is in use .*/etc/docker/daemon.json names it as storage-opts dm.thinpooldev"):
        P.plan(existing(engine_users=[DOCKER_USER]), params(discards="ignore"))
    with pytest.raises(Refusal, match="^chunk_size: "):
        P.plan(existing(engine_users=[DOCKER_USER]), params(chunk_size="64k"))
    with pytest.raises(Refusal, match="^size: .*cannot shrink"):
        P.plan(existing({"lv_size": 1000 * EXT}, free=0, engine_users=[DOCKER_USER]),
               params(size="50%VG", autoextend={"threshold": 100, "percent": 20}))
    assert P.facts(existing(engine_users=[DOCKER_USER]), "docker", "thinpool")["used_by"] == [
        {"engine": "Docker", "path": "/etc/docker/daemon.json", "key": "storage-opts dm.thinpooldev"}]


def test_unreadable_engine_config_blocks_removal_only():
    cur = existing(engine_errors=["docker_config_path: /etc/docker/daemon.json is not valid JSON (Expecting value: line 1 column 1 (char 0))"])
    with pytest.raises(Refusal, match="^docker_config_path: .*not valid JSON.*cannot be told whether an engine uses thin pool docker/thinpool"):
        P.plan(cur, params(state="absent"))
    assert not P.plan(cur, params())


def test_relative_engine_config_path_refused():
    with pytest.raises(Refusal, match="^containerd_config_path: etc/config.toml is relative"):
        P.plan(existing(), params(containerd_config_path="etc/config.toml", state="absent"))


# ---------------------------------------------------------------- describe / predict / facts

def test_predict_matches_describe_of_the_created_pool():
    cur = fresh()
    actions = P.plan(cur, params())
    after = P.predict(P.describe(cur), actions, cur)
    assert after["vg_exists"] and after["vg_devices"] == ["/dev/vdb"]
    assert after["pool"]["size"] == 971 * EXT and after["pool"]["metadata_size"] == 64 * MIB
    assert after["pool"]["monitored"] and after["pool"]["profile"] == "docker-thinpool"
    real = existing({"lv_size": 971 * EXT, "lv_metadata_size": 64 * MIB})
    assert P.describe(real)["pool"] == after["pool"]
    assert P.predict(P.describe(real), [], real) == P.describe(real)


def test_predict_absent():
    cur = existing()
    after = P.predict(P.describe(cur), P.plan(cur, params(state="absent")), cur)
    assert after["pool"] is None and after["profile"] is None and after["vg_exists"]


def test_facts_report_dm_path_target_and_status():
    lvs = L.parse_lvs(fixture("lvm/lvs_captured_pool_thin_snap.json"))
    cur = existing(lvs=lvs, pool=[lv for lv in lvs if lv["lv_name"] == "thinpool"][0], thin_volumes=["thin1", "snap1"],
                   dm_table=L.parse_dmsetup(fixture("lvm/dmsetup_table_captured_pool_with_lvm_thins.txt")),
                   dm_status=L.parse_dmsetup(fixture("lvm/dmsetup_status_captured_pool_with_lvm_thins.txt")))
    f = P.facts(cur, "docker", "thinpool")
    assert f["dm_path"] == "/dev/mapper/docker-thinpool" and f["dm_target"] == "linear"
    assert f["dm_pool_path"] == "/dev/mapper/docker-thinpool-tpool"
    assert f["pool_status"]["data_used_blocks"] == 859 and f["thin_volumes"] == ["snap1", "thin1"]
    assert f["monitored"] and f["autoextend"] == {"threshold": 80, "percent": 20}
    only = copy.deepcopy(cur)
    only["dm_table"] = L.parse_dmsetup(fixture("lvm/dmsetup_table_captured_pool_only.txt"))
    only["dm_status"] = L.parse_dmsetup(fixture("lvm/dmsetup_status_captured_pool_only.txt"))
    f = P.facts(only, "docker", "thinpool")
    assert f["dm_target"] == "thin-pool" and f["dm_pool_path"] == "/dev/mapper/docker-thinpool"
    assert f["pool_status"]["transaction_id"] == 0 and f["pool_status"]["data_total_blocks"] == 4088
    assert P.facts(fresh(), "docker", "thinpool") == {}


def test_usage_warnings():
    f = {"vg": "docker", "name": "thinpool", "data_percent": 85.0, "metadata_percent": 10.0, "monitored": False, "pool_status": {"mode": "rw"}}
    warnings = P.usage_warnings(f, 80)
    assert len(warnings) == 1 and "data is 85.00% full" in warnings[0] and "not monitored" in warnings[0]
    assert not P.usage_warnings(dict(f, data_percent=79.9), 80)
    assert "out_of_data_space" in P.usage_warnings(dict(f, data_percent=1.0, pool_status={"mode": "out_of_data_space"}), 80)[0]


def test_monitor_warning():
    f = {"vg": "docker", "name": "thinpool", "data_percent": 0.0, "monitored": False, "seg_monitor": "not monitored"}
    assert "not monitored by dmeventd" in P.monitor_warning(f, 80) and "dm-event.socket" in P.monitor_warning(f, 80)
    assert P.monitor_warning(dict(f, monitored=True, seg_monitor="monitored"), 80) is None
    assert P.monitor_warning(f, 100) is None  # autoextend off: monitoring is not needed for it
    assert P.monitor_warning(dict(f, data_percent=None), 80) is None  # inactive pool: nothing to monitor
    assert P.monitor_warning({}, 80) is None


def test_missing_tools_names_what_the_host_lacks_in_order():
    assert P.missing_tools(lambda tool: True) == []
    assert P.missing_tools(lambda tool: tool == "dmsetup") == ["lvcreate", "thin_check"]
    assert P.missing_tools(lambda tool: None) == list(P.TOOLS)


def test_missing_tools_agree_with_the_driver_registry():
    """The backend role installs devicemapper's packages for what thinpool names: its device_tools must be among them."""
    from ansible_collections.cow.storage.plugins.module_utils._docker.drivers import DRIVERS
    assert set(DRIVERS["devicemapper"].device_tools) <= set(P.TOOLS)
