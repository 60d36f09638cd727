# -*- coding: utf-8 -*-
# Copyright: cow.storage contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""LVM parsers (captured and hand-written fixtures, see fixtures/lvm/README.md) and the profile write of ThinPoolOps (no mocks)."""

from __future__ import annotations

import os

import pytest
from ansible_collections.cow.storage.tests.unit.conftest import fixture

from ansible_collections.cow.storage.plugins.module_utils import _lvm as L
from ansible_collections.cow.storage.plugins.module_utils._runner import Action
from ansible_collections.cow.storage.plugins.module_utils._thinpool import DEFAULT_EXTENT_SIZE, DEFAULT_PE_START

MIB = 1024 * 1024
EXT = 4 * MIB


# ---------------------------------------------------------------- parsers

def test_parse_pvs_captured_vg_member_and_orphan():
    pvs = L.parse_pvs(fixture("lvm/pvs_captured_vg_and_orphan.json"))
    assert pvs == [
        {"pv_name": "/dev/loop0", "vg_name": "tpvg", "pv_size": 1069547520, "pv_free": 1069547520, "pv_uuid": "U77TSK-cjzG-9Na2-db3E-oGSi-tXVA-W3FSD2"},
        {"pv_name": "/dev/loop1", "vg_name": None, "pv_size": 536870912, "pv_free": 536870912, "pv_uuid": "tt5N2f-epcH-n2XV-MaRj-ko7o-cHTL-qpIZek"},
    ]


def test_parse_vgs_captured():
    vg = L.parse_vgs(fixture("lvm/vgs_captured_one_pv.json"))["tpvg"]
    assert vg["vg_extent_size"] == EXT and vg["vg_extent_count"] == 255 and vg["vg_free_count"] == 255 and vg["lv_count"] == 0
    two = L.parse_vgs(fixture("lvm/vgs_captured_two_pvs.json"))["tpvg"]
    assert two["vg_extent_count"] == 382 and two["pv_count"] == 2
    # A 512 MiB orphan PV added 127 extents: what _new_vg_extents estimates for it.
    assert (536870912 - DEFAULT_PE_START) // DEFAULT_EXTENT_SIZE == 127
    assert L.parse_vgs(fixture("lvm/vgs_captured_missing.json")) == {}


def test_parse_lvs_captured_empty_vg():
    assert L.parse_lvs(fixture("lvm/lvs_captured_empty_vg.json")) == []


def test_parse_lvs_captured_pool_thin_and_snapshot():
    # lvs -a --binary ... as ThinPoolOps.observe runs it, lvm2 2.03.16, after verify.yml made thin1 and its snapshot snap1.
    lvs = {lv["lv_name"]: lv for lv in L.parse_lvs(fixture("lvm/lvs_captured_pool_thin_snap.json"))}
    pool = lvs["thinpool"]
    assert pool["segtype"] == "thin-pool" and pool["lv_size"] == 2143289344 and pool["lv_metadata_size"] == 64 * MIB
    assert pool["chunk_size"] == 512 * 1024 and pool["zero"] is False and pool["discards"] == "passdown"
    assert pool["seg_monitor"] == "monitored" and pool["lv_profile"] == "docker-thinpool" and pool["lv_attr"] == "twi-aot---"
    assert pool["data_percent"] == 21.01 and pool["metadata_percent"] == 10.11 and not pool["hidden"]
    assert lvs["thinpool_tdata"]["hidden"] and lvs["lvol0_pmspare"]["lv_size"] == 64 * MIB
    # --binary: zero is 0/1 on pools and thin volumes, -1 (unknown) on everything else; discards and seg_monitor stay words.
    assert lvs["thinpool_tdata"]["zero"] is None and lvs["thinpool_tdata"]["seg_monitor"] == ""
    assert lvs["snap1"]["origin"] == "thin1" and lvs["snap1"]["pool_lv"] == "thinpool" and lvs["snap1"]["data_percent"] == 7.08
    assert lvs["thin1"]["segtype"] == "thin" and lvs["thin1"]["origin"] is None and lvs["thin1"]["seg_monitor"] == ""


def test_parse_lvs_captured_pool_only_with_and_without_binary():
    binary = {lv["lv_name"]: lv for lv in L.parse_lvs(fixture("lvm/lvs_captured_pool_only.json"))}
    words = {lv["lv_name"]: lv for lv in L.parse_lvs(fixture("lvm/lvs_captured_pool_only_without_binary.json"))}
    assert binary["thinpool"]["zero"] is False and words["thinpool"]["zero"] is False  # "0" with --binary, "" without
    assert binary["thinpool_tmeta"]["zero"] is None and words["thinpool_tmeta"]["zero"] is None  # "-1" / "unknown"
    assert binary["thinpool"]["lv_attr"] == "twi-a-t---" and binary["thinpool"]["data_percent"] == 0.0
    for key in ("segtype", "lv_size", "lv_metadata_size", "chunk_size", "discards", "seg_monitor", "lv_profile"):
        assert binary["thinpool"][key] == words["thinpool"][key]


def test_parse_lvs_one_row_per_lv():
    # A linear LV of two segments (lvextend after another LV took the next extents) is reported once per segment.
    lvs = L.parse_lvs(fixture("lvm/lvs_captured_linear_named_pool.json"))
    assert [lv["lv_name"] for lv in lvs] == ["other", "thinpool"]
    assert lvs[1]["segtype"] == "linear" and lvs[1]["lv_size"] == 16 * MIB and lvs[1]["zero"] is None


def test_binary_fields_accept_both_spellings():
    assert L._binary("zero") is True and L._binary("1") is True
    assert L._binary("") is False and L._binary("0") is False
    assert L._binary("-1") is None and L._binary("unknown") is None


def test_profile_roundtrip():
    assert L.parse_profile(fixture("lvm/profile_captured_docker-thinpool.profile")) == {"threshold": 80, "percent": 20}
    assert L.parse_profile(L.profile_text(75, 30)) == {"threshold": 75, "percent": 30}
    assert L.parse_profile(None) == {}


def test_dm_name_doubles_dashes():
    assert L.dm_name("docker", "thinpool") == "docker-thinpool"
    assert L.dm_name("my-vg", "thin-pool") == "my--vg-thin--pool"


# ---------------------------------------------------------------- the kernel: device-mapper and thin-pool, before any change

def test_parse_proc_misc():
    assert "device-mapper" not in L.parse_proc_misc(fixture("lvm/proc_misc_captured_no_device_mapper.txt"))
    assert "loop-control" in L.parse_proc_misc(fixture("lvm/proc_misc_captured_no_device_mapper.txt"))
    assert "device-mapper" in L.parse_proc_misc(fixture("lvm/proc_misc_handwritten_device_mapper.txt"))


def test_module_listed_in_modules_dep_or_builtin():
    dep = fixture("lvm/modules_dep_handwritten_dm_thin_pool.txt")
    assert L.module_listed("dm-thin-pool", dep)
    assert not L.module_listed("dm-thin-pool", "kernel/drivers/md/dm-mod.ko.xz:\n")
    assert L.module_listed("dm-thin-pool", "", "kernel/drivers/md/dm-thin-pool.ko\n")  # built in
    assert not L.module_listed("dm-thin-pool", "", "")
    assert L.module_listed("dm-mod", dep) and L.module_listed("dm_mod", dep)


# ---------------------------------------------------------------- the profile write (the shared atomic write)

class _Runner:
    def __init__(self, fail=False):
        outer = self

        class Module:
            def atomic_move(self, src, dest):
                if fail:
                    raise OSError(30, "Read-only file system")
                outer.moved = dest
                os.rename(src, dest)
        self.module = Module()
        self.moved = None

    def run(self, argv, **kwargs):  # pragma: no cover - the profile write runs no command
        raise AssertionError("ran %r" % (argv,))


def test_write_profile_is_atomic_and_leaves_no_temporary_file(tmp_path):
    ops = L.ThinPoolOps(_Runner(), profile_dir=str(tmp_path / "profile"))
    path = str(tmp_path / "profile" / "docker-thinpool.profile")
    ops.handlers()["write_profile"](Action("write_profile", "", path=path, content=L.profile_text(80, 20)))
    assert L.parse_profile(open(path, encoding="utf-8").read()) == {"threshold": 80, "percent": 20}
    assert ops.runner.moved == path and (os.stat(path).st_mode & 0o777) == 0o644
    failing = L.ThinPoolOps(_Runner(fail=True), profile_dir=str(tmp_path / "profile"))
    with pytest.raises(OSError):
        failing.handlers()["write_profile"](Action("write_profile", "", path=path, content=L.profile_text(70, 20)))
    assert os.listdir(str(tmp_path / "profile")) == ["docker-thinpool.profile"]  # the old profile, no temporary file
    assert L.parse_profile(open(path, encoding="utf-8").read()) == {"threshold": 80, "percent": 20}


def test_device_mapper_possible_reads_proc_misc_and_modules_and_runs_nothing(tmp_path):
    misc, modules = tmp_path / "misc", tmp_path / "modules"
    release = os.uname()[2]
    (modules / release).mkdir(parents=True)

    def ops():
        return L.ThinPoolOps(_Runner(), proc_misc=str(misc), modules_dir=str(modules))

    misc.write_text(" 59 net/tun\n236 device-mapper\n")
    assert ops().device_mapper_possible()
    misc.write_text(" 59 net/tun\n")  # a container: no device-mapper, no modules
    assert not ops().device_mapper_possible()
    (modules / release / "modules.dep").write_text("kernel/drivers/md/dm-mod.ko.xz:\n")
    assert ops().device_mapper_possible()  # loadable: dmsetup would load it
    misc.unlink()
    assert ops().device_mapper_possible()
