# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Every module that changes a host's storage takes the host's lock before it reads anything (the converge
protocol, _runner.Converge): while another run holds it, each is refused naming the holder, in check mode too,
and runs no command."""

from __future__ import annotations

import importlib
import json
import os

import pytest

from ansible.module_utils.testing import patch_module_args

from ansible_collections.cow.storage.plugins.module_utils import _txn

__metaclass__ = type  # pylint: disable=invalid-name

MODULES = {
    "btrfs_subvol": {"path": "/srv/btrfs/@docker"},
    "overlay_mount": {"path": "/srv/merged", "lower": ["/srv/lower"]},
    "zfs_pool": {"name": "tank", "devices": ["/dev/vdb"], "mountpoint": "/var/lib/docker"},
    "thinpool": {"vg": "docker", "name": "thinpool", "pvs": ["/dev/vdb"]},
    "containerd_snapshotter": {"pool_name": "containerd-thinpool"},
    "docker_storage_backend": {"driver": "overlay2"},
}


@pytest.mark.parametrize("check_mode", [False, True])
@pytest.mark.parametrize("name", sorted(MODULES))
def test_a_module_is_refused_while_another_run_holds_the_host(name, check_mode, host_lock_path, monkeypatch, capsys):
    mod = importlib.import_module("ansible_collections.cow.storage.plugins.modules." + name)
    commands = []

    def run_command(self, cmd, **kwargs):  # pylint: disable=unused-argument
        commands.append(cmd)
        return 0, "", ""

    monkeypatch.setattr(mod.AnsibleModule, "run_command", run_command)
    monkeypatch.setattr(mod.AnsibleModule, "get_bin_path", lambda self, tool, required=False, opt_dirs=None: "/usr/sbin/" + tool)
    holder = _txn.HostLock("docker_storage_backend", path=host_lock_path).acquire()
    try:
        args = dict(MODULES[name], _ansible_check_mode=check_mode)
        with patch_module_args(args):
            with pytest.raises(SystemExit):
                mod.main()
    finally:
        holder.release()
    result = json.loads(capsys.readouterr().out)
    assert result.get("failed") and result["changed"] is False, result
    assert result["msg"].startswith("another cow.storage run is changing this host's storage: pid %d (docker_storage_backend"
                                    % os.getpid()), result["msg"]
    assert commands == []


def test_every_module_that_changes_a_host_is_checked_here():
    # docker_storage_info only reads; every other module changes a host and must be in MODULES
    here = os.path.join(os.path.dirname(__file__), "..", "..", "..", "..", "plugins", "modules")
    modules = set(name[:-3] for name in os.listdir(here) if name.endswith(".py") and not name.startswith("_"))
    assert modules - set(MODULES) == {"docker_storage_info"}


def test_the_lock_is_released_and_emptied_when_a_module_ends(host_lock_path, monkeypatch, capsys):
    # molecule/hostdata checks the lock file is empty after a run: the holder's record goes with the lock
    mod = importlib.import_module("ansible_collections.cow.storage.plugins.modules.btrfs_subvol")
    monkeypatch.setattr(mod.AnsibleModule, "get_bin_path", lambda self, tool, required=False, opt_dirs=None: "/usr/sbin/" + tool)
    with patch_module_args({"path": "/srv/btrfs/@docker", "state": "absent", "readonly": True}):
        with pytest.raises(SystemExit):
            mod.main()
    result = json.loads(capsys.readouterr().out)
    assert result["msg"] == "readonly: not used with state=absent; remove it"
    monkeypatch.setattr(mod.AnsibleModule, "run_command", lambda self, cmd, **kwargs: (1, "", "ERROR: not a btrfs filesystem"))
    with patch_module_args({"path": "/srv/btrfs/@docker", "state": "absent"}):
        with pytest.raises(SystemExit):
            mod.main()
    result = json.loads(capsys.readouterr().out)
    assert result.get("failed") or result.get("changed") is False, result  # it ran past the lock, whatever it found
    assert os.path.getsize(host_lock_path) == 0
    _txn.HostLock("next", path=host_lock_path).acquire().release()  # free again
