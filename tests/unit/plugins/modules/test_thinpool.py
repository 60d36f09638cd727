# -*- coding: utf-8 -*-
# Copyright: cow.storage contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The module's thin layer: main() wires observe -> plan -> check mode
(commands answered from captured fixtures). Behaviour is proven on a real thin pool (molecule/thinpool)."""

from __future__ import annotations

import json
import os

import pytest
from ansible_collections.cow.storage.tests.unit.conftest import fixture

from ansible.module_utils.testing import patch_module_args

from ansible_collections.cow.storage.plugins.modules import thinpool as mod

__metaclass__ = type  # pylint: disable=invalid-name


def run_main(monkeypatch, capsys, args, answers, engine_files=None):
    """Run main() with run_command answered from ``answers`` (argv[0] basename -> stdout); returns (result, commands run)."""
    calls = []

    def run_command(self, cmd, **kwargs):  # pylint: disable=unused-argument
        calls.append(cmd)
        return 0, answers[os.path.basename(cmd[0])], ""

    monkeypatch.setattr(mod.AnsibleModule, "run_command", run_command)
    monkeypatch.setattr(mod.AnsibleModule, "get_bin_path", lambda self, name, required=False, opt_dirs=None: "/usr/sbin/" + name)
    args = dict(args)
    for key, path in (engine_files or {}).items():
        args.setdefault(key, path)
    with patch_module_args(args):
        with pytest.raises(SystemExit):
            mod.main()
    return json.loads(capsys.readouterr().out), calls


DM_ANSWERS = {"dmsetup": fixture("lvm/dmsetup_targets_captured_pool_active.txt")}


def no_engines(tmp_path):
    return {"docker_config_path": str(tmp_path / "daemon.json"), "containerd_config_path": str(tmp_path / "config.toml")}


def test_check_mode_on_existing_vg_plans_without_running_changes(monkeypatch, capsys, tmp_path):
    monkeypatch.setattr(mod.ThinPoolOps, "__init__", _ops_init(str(tmp_path), dm=True))
    answers = dict(DM_ANSWERS, pvs=fixture("lvm/pvs_captured_vg_and_orphan.json"), vgs=fixture("lvm/vgs_captured_one_pv.json"),
                   lvs=fixture("lvm/lvs_captured_empty_vg.json"))
    result, calls = run_main(monkeypatch, capsys, {"vg": "tpvg", "name": "pool", "size": "50%VG", "metadata_size": "8m",
                                                   "_ansible_check_mode": True, "_ansible_diff": True}, answers, no_engines(tmp_path))
    assert result["changed"] is True
    assert [a["action"] for a in result["actions"]] == ["write_profile", "create_pool"]
    assert [os.path.basename(c[0]) for c in calls] == ["dmsetup", "pvs", "vgs", "lvs"]
    assert calls[0][1:] == ["targets"]
    assert result["diff"]["before"]["pool"] is None
    assert result["diff"]["after"]["pool"]["size"] == 127 * 4 * 1024 * 1024
    assert not os.listdir(str(tmp_path / "profile"))


def test_refusal_names_the_parameter(monkeypatch, capsys, tmp_path):
    monkeypatch.setattr(mod.ThinPoolOps, "__init__", _ops_init(str(tmp_path), dm=True))
    answers = dict(DM_ANSWERS, pvs=fixture("lvm/pvs_captured_vg_and_orphan.json"), vgs=fixture("lvm/vgs_captured_one_pv.json"),
                   lvs=fixture("lvm/lvs_captured_empty_vg.json"))
    result, calls = run_main(monkeypatch, capsys, {"vg": "tpvg", "name": "pool", "size": "2g"}, answers, no_engines(tmp_path))
    assert result["failed"] and result["msg"].startswith("size: ")
    assert [os.path.basename(c[0]) for c in calls] == ["dmsetup", "pvs", "vgs", "lvs"]


@pytest.mark.parametrize("check_mode", [True, False])
def test_no_device_mapper_refused_before_any_lvm_change(monkeypatch, capsys, tmp_path, check_mode):
    # This machine's /proc/misc (no device-mapper), a fresh orphan-free disk: the old plan began with pvcreate.
    monkeypatch.setattr(mod.ThinPoolOps, "__init__", _ops_init(str(tmp_path), dm=False))
    disk = tmp_path / "disk"
    disk.write_text("")
    blank = {"exists": True, "real": "/dev/loop7", "is_block": True, "size": 64 << 20, "signatures": []}
    monkeypatch.setattr(mod.ThinPoolOps, "_device", lambda self, path, pvs: dict(blank, path=path))
    answers = {"pvs": '{"report": [{"pv": []}]}', "vgs": fixture("lvm/vgs_captured_missing.json")}
    result, calls = run_main(monkeypatch, capsys, {"vg": "docker", "name": "thinpool", "pvs": [str(disk)], "size": "95%VG",
                                                   "_ansible_check_mode": check_mode}, answers, no_engines(tmp_path))
    assert result["failed"] and result["msg"].startswith("state: present ") and "no device-mapper" in result["msg"]
    assert [os.path.basename(c[0]) for c in calls] == ["pvs", "vgs"]  # read-only: no dmsetup, no wipefs, no pvcreate


def test_dm_mod_not_loaded_yet_is_confirmed_by_dmsetup(monkeypatch, capsys, tmp_path):
    # A VM whose dm-mod is a module nothing loaded yet: /proc/misc lists no device-mapper, modules.dep lists dm-mod,
    # and dmsetup targets (opening /dev/mapper/control loads it) confirms device-mapper and, via modules.dep, dm-thin-pool.
    monkeypatch.setattr(mod.ThinPoolOps, "__init__", _ops_init(str(tmp_path), dm=False, modules_dep=True))
    answers = {"dmsetup": fixture("lvm/dmsetup_targets_handwritten_no_thin.txt"), "pvs": fixture("lvm/pvs_captured_vg_and_orphan.json"),
               "vgs": fixture("lvm/vgs_captured_one_pv.json"), "lvs": fixture("lvm/lvs_captured_empty_vg.json")}
    result, calls = run_main(monkeypatch, capsys, {"vg": "tpvg", "name": "pool", "size": "50%VG", "metadata_size": "8m",
                                                   "_ansible_check_mode": True}, answers, no_engines(tmp_path))
    assert not result.get("failed") and [a["action"] for a in result["actions"]] == ["write_profile", "create_pool"]
    assert calls[0][1:] == ["targets"]


def test_pool_named_by_daemon_json_is_not_removed(monkeypatch, capsys, tmp_path):
    monkeypatch.setattr(mod.ThinPoolOps, "__init__", _ops_init(str(tmp_path), dm=True))
    files = no_engines(tmp_path)
    with open(files["docker_config_path"], "w", encoding="utf-8") as handle:
        json.dump({"storage-driver": "devicemapper", "storage-opts": ["dm.thinpooldev=/dev/mapper/docker-thinpool"]}, handle)
    answers = dict(DM_ANSWERS, pvs=fixture("lvm/pvs_captured_vg_and_orphan.json"),
                   vgs=fixture("lvm/vgs_captured_one_pv.json").replace('"tpvg"', '"docker"'),
                   lvs=fixture("lvm/lvs_captured_pool_only.json"))
    result, calls = run_main(monkeypatch, capsys, {"vg": "docker", "name": "thinpool", "state": "absent", "force": True}, answers, files)
    assert result["failed"] and result["msg"].startswith("state: thin pool docker/thinpool is in use")
    assert files["docker_config_path"] in result["msg"] and "storage-opts dm.thinpooldev" in result["msg"]
    assert "lvremove" not in [os.path.basename(c[0]) for c in calls]
    assert result["thinpool"]["used_by"] == [{"engine": "Docker", "path": files["docker_config_path"], "key": "storage-opts dm.thinpooldev"}]


def _ops_init(base, dm=True, modules_dep=False):
    """ThinPoolOps writing profiles under ``base``/profile and reading a captured or handwritten /proc/misc (and modules.dep)."""
    original = mod.ThinPoolOps.__init__
    os.makedirs(os.path.join(base, "profile"), exist_ok=True)
    os.makedirs(os.path.join(base, "misc"), exist_ok=True)
    if modules_dep:
        os.makedirs(os.path.join(base, "modules", os.uname()[2]))
        with open(os.path.join(base, "modules", os.uname()[2], "modules.dep"), "w", encoding="utf-8") as handle:
            handle.write(fixture("lvm/modules_dep_handwritten_dm_thin_pool.txt"))
    misc = os.path.join(base, "misc", "misc")
    with open(misc, "w", encoding="utf-8") as handle:
        handle.write(fixture("lvm/proc_misc_handwritten_device_mapper.txt" if dm else "lvm/proc_misc_captured_no_device_mapper.txt"))

    def init(self, runner, profile_dir=None):  # pylint: disable=unused-argument
        original(self, runner, profile_dir=os.path.join(base, "profile"), proc_misc=misc, modules_dir=os.path.join(base, "modules"))
    return init
