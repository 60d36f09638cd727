# -*- coding: utf-8 -*-
# Copyright: cow.storage contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Host-level transactions: one lock per host, a journal for every multi-step change, and test-only fail points.

* The lock (``flock`` on ``/run/cow-storage/lock``) lets one cow.storage run change a host's storage at a
  time; a second run is refused with the holder's pid, module and start time. The kernel drops it when the
  holder dies, even by SIGKILL. Its directory is root's alone (0700), never the world-writable ``/run/lock``, where
  any user could plant a symlink or file, or hold the lock to block every run.
* The journal (``/var/lib/cow-storage/journal/<name>.json``, outside any data root so no mount hides it) records a
  change's plan and every finished step (and the image IDs a migration verifies); its directory is root's alone,
  as the lock's, so no other user can plant a record for the next run to "finish". It is written atomically and fsynced before each irreversible step, so a
  run killed anywhere leaves a journal the next run reads first and finishes (or rolls back).
* Fail points, for the test suite only: ``COW_STORAGE_FAILPOINT=<step>:<before|after>`` makes the module exit at
  once (``os._exit(137)``, no clean-up, as SIGKILL would) before or after the named step;
  ``<step>:<before|after>:pause`` makes it wait there, holding the lock, until it is killed. One point lies inside
  a step: ``make_filesystem:made``, after mkfs and before the journal records the step done (a run killed in mkfs);
  and ``stage_images:streaming``, while the images stream into a staged migration's second engine.
  Unset, they cost nothing.
"""

from __future__ import annotations

__metaclass__ = type  # pylint: disable=invalid-name

import errno
import fcntl
import json
import os
import time

from ansible_collections.cow.storage.plugins.module_utils._files import FileRefusal, foreign_control, private_dir, read_text, remove_durably, write_atomic

RUN_DIR = "/run/cow-storage"  # root-only (0700): the lock, trial mounts, validation files
LOCK_PATH = RUN_DIR + "/lock"
JOURNAL_DIR = "/var/lib/cow-storage/journal"
STATE_DIR = "/var/lib/cow-storage/state"
FAILPOINT_ENV = "COW_STORAGE_FAILPOINT"
JOURNAL_VERSION = 1


class LockHeld(Exception):
    """Another run holds the host's lock; the message names it."""


def holder_text(info):
    if not info:
        return "an unknown process"
    started = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(info.get("since") or 0))
    return "pid %s (%s, started %s)" % (info.get("pid"), info.get("module") or "cow.storage", started)


class HostLock:
    """``HostLock("docker_storage_backend").acquire()`` -- refuses at once (no waiting) when another run holds it,
    naming the holder. The lock is released when the process ends, however it ends (flock), so a killed run never
    leaves a stale lock behind."""

    def __init__(self, module_name, path=LOCK_PATH):
        self.module_name = module_name
        self.path = path
        self.fd = None

    def acquire(self):
        private_dir(os.path.dirname(self.path), "lock")
        self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0), 0o600)
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except (IOError, OSError) as exc:
            if exc.errno not in (errno.EAGAIN, errno.EACCES):
                raise
            info = self.holder()
            os.close(self.fd)
            self.fd = None
            raise LockHeld("another cow.storage run is changing this host's storage: %s holds %s; nothing was "
                           "changed, run again when it has finished" % (holder_text(info), self.path)) from None
        os.ftruncate(self.fd, 0)
        os.write(self.fd, json.dumps({"pid": os.getpid(), "module": self.module_name, "since": int(time.time())}).encode())
        return self

    def holder(self):
        try:
            return json.loads(read_text(self.path) or "{}")
        except (IOError, OSError, ValueError):
            return {}

    def release(self):
        if self.fd is not None:
            os.ftruncate(self.fd, 0)
            fcntl.flock(self.fd, fcntl.LOCK_UN)
            os.close(self.fd)
            self.fd = None


def failpoint(step, when):
    """Exit at once when the test suite asked for a fail point here (see the module docstring); with a ``:pause``
    suffix, wait there instead until the process is killed (the test suite kills it with SIGKILL, or runs a second
    run meanwhile)."""
    wanted = os.environ.get(FAILPOINT_ENV)
    if not wanted:
        return
    if wanted == "%s:%s" % (step, when):
        os._exit(137)  # pylint: disable=protected-access
    if wanted == "%s:%s:pause" % (step, when):
        while True:
            time.sleep(1)


class Journal:
    """The record of one multi-step change on this host (one journal per ``name``)."""

    def __init__(self, name, directory=JOURNAL_DIR):
        self.path = os.path.join(directory, "%s.json" % name)
        self.data = None

    def load(self):
        """The unfinished change recorded here, or None. A journal that cannot be read is an error the caller
        reports: it is never ignored, since it may hold the only record of where images are. A journal directory
        another user controls is refused (FileRefusal) before anything is read."""
        problem = foreign_control(self.path)
        if problem:
            raise FileRefusal("journal: %s; nothing was read or changed (another user could plant a record there for "
                              "this run to finish)" % problem)
        if not os.path.exists(self.path):
            self.data = None
            return None
        text = read_text(self.path)
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise ValueError("the journal %s is not valid JSON (%s)" % (self.path, exc)) from None
        if not isinstance(data, dict) or data.get("version") != JOURNAL_VERSION:
            raise ValueError("the journal %s has an unknown format" % self.path)
        self.data = data
        return data

    def begin(self, **record):
        self.data = dict(record, version=JOURNAL_VERSION, started=int(time.time()), pid=os.getpid(), done=[])
        self.save()
        return self.data

    def save(self):
        private_dir(os.path.dirname(self.path), "journal")
        write_atomic(self.path, json.dumps(self.data, indent=1, sort_keys=True) + "\n", mode=0o600)

    def done(self, step):
        return step in (self.data or {}).get("done", [])

    def mark(self, step, **update):
        """Record ``step`` as done (once, at the end of the list), with ``update``, durably."""
        self.data["done"] = [d for d in self.data.get("done") or [] if d != step] + [step]
        self.data.update(update)
        self.save()

    def update(self, **update):
        self.data.update(update)
        self.save()

    def finish(self):
        remove_durably(self.path)
        self.data = None


def journal_name(family, config_path, default_path):
    """One journal per engine configuration: ``family`` for the engine's default file, else ``family-<path>``."""
    if os.path.normpath(config_path) == default_path:
        return family
    return family + "-" + "".join(c if c.isalnum() else "_" for c in os.path.normpath(config_path).strip("/"))


def summary(data):
    """One line for a journal record, for facts and messages."""
    if not data:
        return None
    return "%s change started %s by pid %s: %s; steps done: %s; still to do: %s" % (
        data.get("module"), time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(data.get("started") or 0)), data.get("pid"),
        data.get("description") or "(no description)", ", ".join(data.get("done") or []) or "none",
        ", ".join(s for s in data.get("steps") or [] if s not in (data.get("done") or [])) or "none")


# --- the converged state: what a successful run left, so a later read can tell what another tool changed ---------
STORAGE_KEYS = ("storage-driver", "data-root", "storage-opts")


def converged_record(config, engine):
    """What a successful run converged: daemon.json's storage keys and what the engine ran on."""
    return {"config": dict((k, config.get(k)) for k in STORAGE_KEYS if config.get(k) is not None),
            "driver": engine.get("driver"), "data_root": engine.get("data_root"), "image_store": engine.get("image_store"),
            "since": int(time.time())}


def write_converged(name, record, directory=STATE_DIR):
    private_dir(directory, "state")
    write_atomic(os.path.join(directory, "%s.json" % name), json.dumps(record, indent=1, sort_keys=True) + "\n", mode=0o600)


def read_converged(name, directory=STATE_DIR):
    """The last converged record, or None (none yet, unreadable, or in a directory another user controls)."""
    path = os.path.join(directory, "%s.json" % name)
    if not os.path.exists(path) or foreign_control(path):
        return None
    try:
        data = json.loads(read_text(path))
    except (IOError, OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def drift(record, config, engine):
    """What changed since a converge, outside cow.storage: ``None``, or ``{"keys": {key: [then, now]}, "since",
    "then": {driver, data_root}, "now": {driver, data_root}}`` when daemon.json's storage keys differ from what the
    record holds (another tool rewrote the file) - the engine's next (or last) start then differs too."""
    if not record:
        return None
    then = record.get("config") or {}
    keys = dict((k, [then.get(k), config.get(k)]) for k in STORAGE_KEYS if then.get(k) != config.get(k))
    if not keys:
        return None
    return {"keys": keys, "since": record.get("since"),
            "then": {"driver": record.get("driver"), "data_root": record.get("data_root")},
            "now": {"driver": engine.get("driver") if engine.get("running") else None,
                    "data_root": engine.get("data_root") if engine.get("running") else None}}


def drift_text(found, config_path):
    if not found:
        return None
    changed = ", ".join("%s %s -> %s" % (k, json.dumps(v[0]), json.dumps(v[1])) for k, v in sorted(found["keys"].items()))
    when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(found.get("since") or 0))
    now = found["now"]
    return ("%s changed outside cow.storage since it converged the host (%s): %s; converged: %s on %s, the engine now: %s%s. "
            "Data of the converged storage stays under %s, out of the engine's view until the host is converged again"
            % (config_path, when, changed, found["then"]["driver"], found["then"]["data_root"],
               now["driver"] or "stopped", " on %s" % now["data_root"] if now["data_root"] else "", found["then"]["data_root"]))
