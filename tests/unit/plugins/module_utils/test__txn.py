# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The host lock, the journal and the atomic write, on real files in a temporary directory."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from ansible_collections.cow.storage.plugins.module_utils import _files, _txn


def test_lock_refuses_a_second_holder_and_names_the_first(private_tmp):
    path = os.path.join(private_tmp, "lock")
    first = _txn.HostLock("docker_storage_backend", path=path).acquire()
    with pytest.raises(_txn.LockHeld, match=r"pid %d \(docker_storage_backend, started " % os.getpid()):
        _txn.HostLock("thinpool", path=path).acquire()
    first.release()
    _txn.HostLock("thinpool", path=path).acquire().release()


def test_lock_is_released_when_its_holder_is_killed(private_tmp):
    path = os.path.join(private_tmp, "lock")
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


def test_journal_records_steps_and_finishes(private_tmp):
    journal = _txn.Journal("docker", directory=str(private_tmp))
    assert journal.load() is None
    journal.begin(module="docker_storage_backend", description="switch", steps=["save_images", "write_config", "restart"])
    journal.mark("save_images")
    again = _txn.Journal("docker", directory=str(private_tmp)).load()
    assert again["done"] == ["save_images"]
    assert "still to do: write_config, restart" in _txn.summary(again)
    assert oct(os.stat(journal.path).st_mode & 0o777) == "0o600"
    journal.finish()
    assert not os.path.exists(journal.path)
    assert _txn.summary(None) is None


def test_journal_that_cannot_be_read_is_an_error(private_tmp):
    path = os.path.join(private_tmp, "docker.json")
    with open(path, "w", encoding="utf-8") as handle:
        handle.write("{not json")
    with pytest.raises(ValueError, match="not valid JSON"):
        _txn.Journal("docker", directory=private_tmp).load()
    with open(path, "w", encoding="utf-8") as handle:
        handle.write('{"version": 99}')
    with pytest.raises(ValueError, match="unknown format"):
        _txn.Journal("docker", directory=private_tmp).load()


NOBODY = 65534


@pytest.mark.skipif(os.geteuid() != 0, reason="planting another user's file needs root (chown)")
def test_a_lock_directory_another_user_planted_is_refused_naming_the_owner(private_tmp):
    # the reproduction: a file or symlink planted in the world-writable /run/lock blocked every run
    planted = os.path.join(private_tmp, "cow-storage")
    os.mkdir(planted, 0o700)
    os.chown(planted, NOBODY, NOBODY)
    with pytest.raises(_files.FileRefusal, match=r"^lock: %s is owned by \S* ?\(?uid %d" % (planted, NOBODY)):
        _txn.HostLock("docker_storage_backend", path=os.path.join(planted, "lock")).acquire()
    assert os.listdir(planted) == []
    os.rmdir(planted)
    os.symlink("/tmp", planted)  # a symlink to somewhere another user can write
    with pytest.raises(_files.FileRefusal, match="^lock: /tmp is writable by every user"):
        _txn.HostLock("docker_storage_backend", path=os.path.join(planted, "lock")).acquire()


def test_the_lock_directory_is_made_root_only_and_the_lock_file_0600(private_tmp):
    lock = _txn.HostLock("docker_storage_backend", path=os.path.join(private_tmp, "run", "lock")).acquire()
    assert oct(os.stat(os.path.join(private_tmp, "run")).st_mode & 0o777) == "0o700"
    assert oct(os.stat(lock.path).st_mode & 0o777) == "0o600"
    lock.release()


@pytest.mark.skipif(os.geteuid() != 0, reason="planting another user's file needs root (chown)")
def test_a_journal_directory_others_can_write_is_refused_before_reading(private_tmp):
    with open(os.path.join(private_tmp, "docker.json"), "w", encoding="utf-8") as handle:
        handle.write('{"version": 1, "steps": ["write_config"]}')
    os.chmod(private_tmp, 0o777)
    with pytest.raises(_files.FileRefusal, match="^journal: %s is writable by every user;" % private_tmp):
        _txn.Journal("docker", directory=private_tmp).load()
    os.chmod(private_tmp, 0o1770)
    os.chown(private_tmp, 0, NOBODY)
    with pytest.raises(_files.FileRefusal, match="^journal: %s is writable by the group" % private_tmp):
        _txn.Journal("docker", directory=private_tmp).load()
    os.chmod(private_tmp, 0o700)
    os.chown(private_tmp, 0, 0)
    assert _txn.Journal("docker", directory=private_tmp).load()["steps"] == ["write_config"]


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


def test_drift_names_what_another_tool_changed_in_daemon_json(private_tmp):
    # the combination: a role that writes the whole daemon.json drops storage-driver and data-root
    engine = {"running": True, "driver": "vfs", "data_root": "/srv/docker", "image_store": "graphdriver"}
    _txn.write_converged("docker", _txn.converged_record({"storage-driver": "vfs", "data-root": "/srv/docker", "x": 1}, engine),
                         directory=private_tmp)
    record = _txn.read_converged("docker", directory=private_tmp)
    assert record["config"] == {"storage-driver": "vfs", "data-root": "/srv/docker"}
    assert _txn.drift(record, {"storage-driver": "vfs", "data-root": "/srv/docker", "log-driver": "json-file"}, engine) is None
    now = {"running": True, "driver": "overlay2", "data_root": "/var/lib/docker"}
    found = _txn.drift(record, {"log-driver": "json-file"}, now)
    assert found["keys"] == {"storage-driver": ["vfs", None], "data-root": ["/srv/docker", None]}
    text = _txn.drift_text(found, "/etc/docker/daemon.json")
    assert text.startswith("/etc/docker/daemon.json changed outside cow.storage since it converged the host (")
    assert 'data-root "/srv/docker" -> null, storage-driver "vfs" -> null; converged: vfs on /srv/docker, the engine now: ' \
           "overlay2 on /var/lib/docker. Data of the converged storage stays under /srv/docker" in text
    assert _txn.drift(None, {}, now) is None and _txn.read_converged("other", directory=private_tmp) is None


def test_private_dir_tightens_its_own_directories_only(private_tmp):
    own, users = os.path.join(private_tmp, "journal"), os.path.join(private_tmp, "migrate")
    for path in (own, users):
        os.mkdir(path, 0o755)
        os.chmod(path, 0o755)
    _files.private_dir(own, "journal")
    _files.private_dir(users, "migrate_path", tighten=False)
    assert oct(os.stat(own).st_mode & 0o777) == "0o700"
    assert oct(os.stat(users).st_mode & 0o777) == "0o755"
    made = _files.private_dir(os.path.join(private_tmp, "new", "dir"), "migrate_path", tighten=False)
    assert oct(os.stat(made).st_mode & 0o777) == "0o700"


def test_one_journal_per_engine_configuration():
    assert _txn.journal_name("docker", "/etc/docker/daemon.json", "/etc/docker/daemon.json") == "docker"
    assert _txn.journal_name("docker", "/etc/docker/../docker/daemon.json", "/etc/docker/daemon.json") == "docker"
    assert _txn.journal_name("containerd", "/srv/c.toml", "/etc/containerd/config.toml") == "containerd-srv_c_toml"
