# -*- coding: utf-8 -*-
# Copyright: cow.storage contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The module's thin layer: main() wires observe -> plan -> check mode
(commands answered from captured fixtures). Behaviour is proven on a real thin pool (molecule/thinpool)."""

from __future__ import annotations

import json
import os

import pytest

from ansible.module_utils.testing import patch_module_args

from ansible_collections.cow.storage.plugins.modules import thinpool as mod

__metaclass__ = type  # pylint: disable=invalid-name

FIX = os.path.join(os.path.dirname(__file__), "..", "..", "fixtures", "lvm")


def fixture(name):
    with open(os.path.join(FIX, name), encoding="utf-8") as handle:
        return handle.read()


def run_main(monkeypatch, capsys, args, answers):
    """Run main() with run_command answered from ``answers`` (argv[0] basename -> stdout); returns (result, commands run)."""
    calls = []

    def run_command(self, cmd, **kwargs):  # pylint: disable=unused-argument
        calls.append(cmd)
        return 0, answers[os.path.basename(cmd[0])], ""

    monkeypatch.setattr(mod.AnsibleModule, "run_command", run_command)
    monkeypatch.setattr(mod.AnsibleModule, "get_bin_path", lambda self, name, required=False, opt_dirs=None: "/usr/sbin/" + name)
    with patch_module_args(args):
        with pytest.raises(SystemExit):
            mod.main()
    return json.loads(capsys.readouterr().out), calls


def test_check_mode_on_existing_vg_plans_without_running_changes(monkeypatch, capsys, tmp_path):
    monkeypatch.setattr(mod.ThinPoolOps, "__init__", _ops_init(str(tmp_path)))
    answers = {"pvs": fixture("pvs_captured_vg_and_orphan.json"), "vgs": fixture("vgs_captured_one_pv.json"),
               "lvs": fixture("lvs_captured_empty_vg.json")}
    result, calls = run_main(monkeypatch, capsys, {"vg": "tpvg", "name": "pool", "size": "50%VG", "metadata_size": "8m",
                                                   "_ansible_check_mode": True, "_ansible_diff": True}, answers)
    assert result["changed"] is True
    assert [a["action"] for a in result["actions"]] == ["write_profile", "create_pool"]
    assert [os.path.basename(c[0]) for c in calls] == ["pvs", "vgs", "lvs"]
    assert result["diff"]["before"]["pool"] is None
    assert result["diff"]["after"]["pool"]["size"] == 127 * 4 * 1024 * 1024
    assert not os.listdir(str(tmp_path))


def test_refusal_names_the_parameter(monkeypatch, capsys, tmp_path):
    monkeypatch.setattr(mod.ThinPoolOps, "__init__", _ops_init(str(tmp_path)))
    answers = {"pvs": fixture("pvs_captured_vg_and_orphan.json"), "vgs": fixture("vgs_captured_one_pv.json"),
               "lvs": fixture("lvs_captured_empty_vg.json")}
    result, calls = run_main(monkeypatch, capsys, {"vg": "tpvg", "name": "pool", "size": "2g"}, answers)
    assert result["failed"] and result["msg"].startswith("size: ")
    assert [os.path.basename(c[0]) for c in calls] == ["pvs", "vgs", "lvs"]


def _ops_init(profile_dir):
    original = mod.ThinPoolOps.__init__

    def init(self, runner, profile_dir_=profile_dir):
        original(self, runner, profile_dir=profile_dir_)
    return init
