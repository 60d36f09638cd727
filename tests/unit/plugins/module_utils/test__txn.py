# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The host lock, the journal and the atomic write, on real files in a temporary directory."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from ansible_collections.cow.storage.plugins.module_utils import _files, _txn


def test_lock_refuses_a_second_holder_and_names_the_first(tmp_path):
    path = str(tmp_path / "lock")
    first = _txn.HostLock("docker_storage_backend", path=path).acquire()
    with pytest.raises(_txn.LockHeld, match=r"pid %d \(docker_storage_backend, started " % os.getpid()):
        _txn.HostLock("thinpool", path=path).acquire()
    first.release()
    _txn.HostLock("thinpool", path=path).acquire().release()


def test_lock_is_released_when_its_holder_is_killed(tmp_path):
    path = str(tmp_path / "lock")
    code = ("import sys, time; sys.path[:0] = %r\n"
            "from ansible_collections.cow.storage.plugins.module_utils import _txn\n"
            "_txn.HostLock('child', path=%r).acquire(); print('held', flush=True); time.sleep(60)") % (sys.path, path)
    child = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE)
    assert child.stdout.readline().strip() == b"held"
    with pytest.raises(_txn.LockHeld, match="pid %d" % child.pid):
        _txn.HostLock("parent", path=path).acquire()
    child.kill()
    child.wait()
    _txn.HostLock("parent", path=path).acquire().release()


def test_journal_records_steps_and_finishes(tmp_path):
    journal = _txn.Journal("docker", directory=str(tmp_path))
    assert journal.load() is None
    journal.begin(module="docker_storage_backend", description="switch", steps=["save_images", "write_config", "restart"])
    journal.mark("save_images")
    again = _txn.Journal("docker", directory=str(tmp_path)).load()
    assert again["done"] == ["save_images"]
    assert "still to do: write_config, restart" in _txn.summary(again)
    assert oct(os.stat(journal.path).st_mode & 0o777) == "0o600"
    journal.finish()
    assert not os.path.exists(journal.path)
    assert _txn.summary(None) is None


def test_journal_that_cannot_be_read_is_an_error(tmp_path):
    (tmp_path / "docker.json").write_text("{not json")
    with pytest.raises(ValueError, match="not valid JSON"):
        _txn.Journal("docker", directory=str(tmp_path)).load()
    (tmp_path / "docker.json").write_text('{"version": 99}')
    with pytest.raises(ValueError, match="unknown format"):
        _txn.Journal("docker", directory=str(tmp_path)).load()


def test_failpoint_exits_at_once_only_where_asked(tmp_path):
    code = ("import sys; sys.path[:0] = %r\n"
            "from ansible_collections.cow.storage.plugins.module_utils._txn import failpoint\n"
            "failpoint('write_config', 'before'); print('passed', flush=True); failpoint('write_config', 'after')") % sys.path
    env = dict(os.environ, COW_STORAGE_FAILPOINT="write_config:after")
    run = subprocess.run([sys.executable, "-c", code], env=env, stdout=subprocess.PIPE, check=False)
    assert (run.returncode, run.stdout.strip()) == (137, b"passed")
    env["COW_STORAGE_FAILPOINT"] = ""
    assert subprocess.run([sys.executable, "-c", code], env=env, check=False).returncode == 0


def test_write_atomic_follows_a_symlink_keeps_mode_and_backs_up(tmp_path):
    real = tmp_path / "real.json"
    real.write_text("old\n")
    os.chmod(str(real), 0o640)
    link = tmp_path / "daemon.json"
    os.symlink("real.json", str(link))
    saved = _files.write_atomic(str(link), "new\n", backup=True)
    assert os.path.islink(str(link)) and real.read_text() == "new\n"
    assert oct(os.stat(str(real)).st_mode & 0o777) == "0o640"
    assert saved and open(saved).read() == "old\n" and saved.endswith("~")
    assert sorted(os.listdir(str(tmp_path))) == sorted(["daemon.json", "real.json", os.path.basename(saved)])


def test_check_rewritable_refusals(tmp_path):
    assert _files.check_rewritable(str(tmp_path / "new" / "daemon.json"), "config_path").endswith("daemon.json")
    with pytest.raises(_files.FileRefusal, match="^config_path: etc/x is relative"):
        _files.check_rewritable("etc/x", "config_path")
    with pytest.raises(_files.FileRefusal, match="^config_path: .* is a directory"):
        _files.check_rewritable(str(tmp_path), "config_path")
    afile = tmp_path / "file"
    afile.write_text("x")
    with pytest.raises(_files.FileRefusal, match="^config_path: .* cannot be created: .* is not a directory"):
        _files.check_rewritable(str(afile / "daemon.json"), "config_path")
