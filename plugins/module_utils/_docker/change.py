# -*- coding: utf-8 -*-
# Copyright: cow.storage contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Applying a planned storage change of the Docker Engine as a transaction.

Every step of the plan is recorded in the host's journal (``_txn.Journal``) before and after it runs, so a run
killed at any point (SIGKILL, power loss) leaves a record the next run reads first:

* killed before the first irreversible step (only containers stopped or images being saved): the record and any
  partial archive are dropped and the change is planned again from what the host holds;
* killed later: the change is finished (every remaining step re-run; each step is idempotent: a mount in place, a
  file already written, an image already loaded are left as they are);
* the engine does not start on the new configuration: every step done is undone in reverse order (configuration
  and fstab restored, filesystem unmounted, the old data root content moved back) and the engine restarted on the
  previous configuration, so an engine that was up stays up and no image is hidden.

Images are never deleted by a migration: the archive is removed only after every image ID was verified in the new
store, and the previous driver data stays where it was (or where ``move_aside`` put it, as the result says).
"""

from __future__ import annotations

__metaclass__ = type  # pylint: disable=invalid-name

import os
import stat
import tempfile
import time

from ansible_collections.cow.storage.plugins.module_utils._blockdev import probe, signatures_text, wipe_argv
from ansible_collections.cow.storage.plugins.module_utils._btrfs import subvolumes_under
from ansible_collections.cow.storage.plugins.module_utils._docker.dataroot import fstab_line, mkfs_argv, mount_matches
from ansible_collections.cow.storage.plugins.module_utils._docker.host import aside_path
from ansible_collections.cow.storage.plugins.module_utils._docker.parse import image_identity, rejected_key
from ansible_collections.cow.storage.plugins.module_utils._docker.plan import render_config
from ansible_collections.cow.storage.plugins.module_utils._files import (
    foreign_control,
    fsync_dir,
    private_dir,
    read_text,
    remove_durably,
    tree_digest,
    write_atomic,
)
from ansible_collections.cow.storage.plugins.module_utils._mountinfo import containing_mount, find_mount, mount_argv, read_mounts, update_fstab
from ansible_collections.cow.storage.plugins.module_utils._zfs import docker_layer_datasets
from ansible_collections.cow.storage.plugins.module_utils._runner import Action
from ansible_collections.cow.storage.plugins.module_utils._txn import RUN_DIR, failpoint, summary


class Step:
    """What the journaled change knows of one step kind; :data:`STEPS` holds one per kind, and ``run``, ``resume``,
    ``abort``, ``rollback`` and the module's check-mode prediction read it (a unit test checks that every kind a
    planner emits is here). The step itself is the :class:`Change` method named like the kind.

    * ``no_return``: after it, the host differs from before in a way a re-plan cannot see, so a killed run is
      finished by the next one instead of planned again;
    * ``on_resume``: ``"repeat"`` (idempotent: run again), ``"once"`` (not repeated once recorded done) or ``"skip"``
      (its effect is recorded, or was needed only before the point of no return);
    * ``irreversible``: once it is done, a failure of a later step is left to the next run instead of rolled back;
    * ``on_failure``: ``"rollback"`` (undo what was done) or ``"journal"`` (leave the change to the next run);
    * ``undo``: the Change method that reverses it in a rollback (None: nothing to undo);
    * ``predict``: what check mode says of the storage once it ran (keys of the result's ``storage``);
    * ``engine_untouched``: it leaves the engine and its data root alone, so a rollback of a change that did only
      such steps neither stops nor restarts the engine.
    """

    def __init__(self, no_return, on_resume="repeat", irreversible=False, on_failure="rollback", undo=None, predict=None,
                 engine_untouched=False):
        self.no_return = no_return
        self.engine_untouched = engine_untouched
        self.on_failure = on_failure
        self.on_resume = on_resume
        self.irreversible = irreversible
        self.undo = undo
        self.predict = predict or {}


STEPS = {
    "stop_containers": Step(False, on_resume="skip", undo="undo_stop_containers"),
    "save_images": Step(False, on_resume="skip", engine_untouched=True),
    "stage_images": Step(False, on_resume="skip", engine_untouched=True, undo="undo_stage_images"),
    "validate": Step(False, on_resume="skip", engine_untouched=True),
    "make_filesystem": Step(True, on_resume="once", engine_untouched=True),
    "try_mount": Step(False, engine_untouched=True),
    "wipe_engine": Step(True, on_resume="once", irreversible=True),
    "remove_driver_data": Step(True, irreversible=True),
    "stop_engine": Step(True),
    "move_aside": Step(True, undo="undo_move_aside"),
    "mount_data_root": Step(True, undo="undo_mount_data_root"),
    "carry_volumes": Step(True, undo="undo_carry_volumes"),
    "swap_stores": Step(True, undo="undo_swap_stores"),
    "write_fstab": Step(True, undo="undo_write_fstab"),
    "require_mount": Step(True, undo="undo_require_mount"),
    "write_config": Step(True, undo="undo_write_config"),
    "restart": Step(True, predict={"restarted": True}),
    "load_images": Step(True, irreversible=True, on_failure="journal"),
    "verify_images": Step(True),
    "remove_old_store": Step(True, irreversible=True, on_failure="journal"),
    "enable_engine": Step(True, predict={"enabled": True}),
}


class ChangeFailed(Exception):
    """A step failed; ``details`` go into the failure result."""

    def __init__(self, msg, **details):
        super().__init__(msg)
        self.details = details


class Change:
    """Runs (or resumes) one journaled change of the engine's storage."""

    def __init__(self, module, host, journal, result):
        self.module = module
        self.host = host
        self.runner = host.runner
        self.journal = journal
        self.result = result
        self.rec = None

    # --- the record -------------------------------------------------------------------------------
    @staticmethod
    def record(observed, actions, params, facts):
        mount = observed.get("mount") or {}
        return {
            "module": "docker_storage_backend",
            "description": "; ".join(a.description for a in actions),
            "steps": [a.kind for a in actions],
            "actions": [{"kind": a.kind, "description": a.description, "args": a.args} for a in actions],
            "config_path": observed["config_real_path"],
            "old_config_text": observed["config_text"],
            "old_config_exists": observed["config_exists"],
            "old_fstab_text": mount.get("fstab_text"),
            "was_running": bool(observed["engine"].get("running")),
            "old_driver": observed["engine"].get("driver"),
            "target": list(facts["target"]),
            "backup": bool(params.get("backup")),
        }

    def actions(self):
        return [Action(a["kind"], a["description"], **a["args"]) for a in self.rec["actions"]]

    # --- running ----------------------------------------------------------------------------------
    def run(self, actions, record):
        self.rec = self.journal.begin(**record)
        for action in actions:
            self.step(action)
        self.journal.finish()

    def resume(self):
        """Finish the change the journal records (or drop it when nothing irreversible happened)."""
        self.rec = self.journal.data
        text = summary(self.rec)
        started = set(self.rec.get("done") or []) | set([self.rec.get("current")] if self.rec.get("current") else [])
        if not any(STEPS[k].no_return for k in started):
            self._drop_archive()
            staged = self._drop_stage()
            self.journal.finish()
            return {"journal": text, "outcome": "dropped: the run stopped before changing the host (%s removed)"
                    % ("the staging engine and its store" if staged else "partial archive")}
        self.rec["resumed"] = int(time.time())
        self.rec["current_was"] = self.rec.get("current")
        self.journal.save()
        for action in self.actions():
            rule = STEPS[action.kind].on_resume
            if rule == "skip" or (rule == "once" and self.journal.done(action.kind)):
                continue
            self.step(action)
        self.journal.finish()
        return {"journal": text, "outcome": "finished"}

    def step(self, action):
        failpoint(action.kind, "before")
        self.journal.update(current=action.kind)
        try:
            getattr(self, action.kind)(action)
        except ChangeFailed as exc:
            self.abort(action, str(exc))
        except (IOError, OSError) as exc:
            self.abort(action, "%s: %s" % (action.kind, exc))
        self.journal.mark(action.kind, current=None)
        failpoint(action.kind, "after")

    def _archive(self):
        """The archive this change saved (its path is in the journal, in a private directory made for it)."""
        return self.rec.get("archive")

    def _drop_archive(self):
        """The archive of a change that did not happen, and the private directory made for it."""
        archive = self._archive()
        if not archive:
            return
        if os.path.lexists(archive):
            os.unlink(archive)
        try:
            os.rmdir(os.path.dirname(archive))
        except OSError:
            pass

    def fail(self, msg, **extra):
        self.result.update(extra)
        self.module.fail_json(msg=msg, **self.result)

    # --- steps ------------------------------------------------------------------------------------
    def stop_containers(self, action):
        self.runner.run(["docker", "stop"] + action.args["names"], what="stopping containers")

    def save_images(self, action):
        """Save into a directory made for this change with mkdtemp (0700, root's) under migrate_path, which the plan
        found under no other user's control; the archive's path and the image identities to verify go into the
        root-only journal, never beside the archive."""
        top = private_dir(action.args["dir"], "migrate_path", tighten=False)
        path = os.path.join(tempfile.mkdtemp(prefix="cow-storage-", dir=top), "images.tar")
        self.journal.update(archive=path)
        rc, out, err = self.runner.run(["docker", "save", "-o", path] + [i["name"] for i in action.args["images"]], check_rc=False)
        if rc != 0:
            self._drop_archive()
            self.journal.finish()
            started = self._start_stopped_containers()
            self.fail("save_images: docker save to %s failed (partial archive removed)%s; nothing else was changed: %s"
                      % (path, "; the containers it stopped were started again: %s" % ", ".join(started) if started else "",
                         (err or out).strip()))
        # what each image is across image stores (the containerd store's IDs are manifest digests)
        identities = dict((i["name"], self._identity(i["name"]) or i["id"]) for i in action.args["images"])
        self.journal.update(ids=identities)
        self.result["storage"].setdefault("migration", {}).update({"images": action.args["images"], "archive": path,
                                                                   "verified": False, "containers_left_behind": []})

    def _start_stopped_containers(self):
        """A change that stops before its point of no return starts again the containers its stop_containers step
        stopped; returns their names."""
        names = []
        for action in self.actions():
            if action.kind == "stop_containers" and "stop_containers" in (self.rec.get("done") or []):
                names = action.args["names"]
        if names:
            self.runner.run(["docker", "start"] + names, check_rc=False)
        return names

    def wipe_engine(self, action):
        if action.args["containers"]:
            self.runner.run(["docker", "rm", "-f"] + action.args["containers"], check_rc=False)
        if action.args["images"]:
            self.runner.run(["docker", "rmi", "-f"] + sorted(set(action.args["images"])), check_rc=False)

    def remove_driver_data(self, action):
        """``rm --one-file-system`` cannot remove btrfs subvolumes (each is a device of its own): the btrfs driver's
        layers are deleted with ``btrfs subvolume delete`` first, deepest first, so a wipe of a btrfs data root
        finishes instead of leaving a journal every later run trips on."""
        path = action.args["path"]
        if not os.path.lexists(path):
            return
        subvolumes = subvolumes_under(path) if os.path.isdir(path) and not os.path.islink(path) else []
        if subvolumes and not self.module.get_bin_path("btrfs"):
            raise ChangeFailed("remove_driver_data: %s holds %d btrfs subvolume(s) and the btrfs tool is not installed; "
                               "install btrfs-progs" % (path, len(subvolumes)))
        for sub in subvolumes:
            self.runner.run(["btrfs", "subvolume", "delete", sub], what="deleting the btrfs subvolume %s" % sub)
        self._destroy_zfs_layers(path)
        self._remove_tree(path, "removing %s" % path)

    def _destroy_zfs_layers(self, path):
        """Docker's zfs driver keeps each layer as a dataset (``<dataset of the data root>/<id>``, mountpoint=legacy)
        that ``rm`` never sees: removing ``<root>/zfs`` destroys them through ``zfs destroy -R`` (which takes the
        clones of their snapshots), so no layer is left behind unnamed, holding space."""
        if os.path.basename(path.rstrip("/")) != "zfs" or not self.module.get_bin_path("zfs"):
            return
        holder = containing_mount(read_mounts(), os.path.realpath(os.path.dirname(path)))
        if not holder or holder["fstype"] != "zfs":
            return
        parent = holder["source"]
        for dummy in range(3):  # a clone of a layer outside the list goes with its origin; what is left is listed again
            rc, out, err = self.runner.run(["zfs", "list", "-H", "-o", "name,origin", "-t", "filesystem", "-r", parent], check_rc=False)
            layers = docker_layer_datasets(out, parent) if rc == 0 else []
            if not layers:
                return
            for name in layers:
                self.runner.run(["zfs", "destroy", "-R", name], check_rc=False)
        raise ChangeFailed("remove_driver_data: the zfs datasets %s under %s could not be destroyed" % (", ".join(layers), parent))

    def stop_engine(self, action):  # pylint: disable=unused-argument
        if not self.host.stop():
            raise ChangeFailed("timeout: the engine did not stop within %d s" % self.host.timeout)

    def move_aside(self, action):
        path, aside = action.args["path"], action.args["aside"]
        if os.path.exists(aside):
            # a resumed change: the content was moved already; whatever appeared since (an engine started at boot
            # before the mount was persisted) is moved aside too, never shadowed by the mount
            if os.path.isdir(path) and os.listdir(path) and not self._mounted_at(path):
                aside = aside_path(path, os.path.exists)
            else:
                if not os.path.isdir(path):
                    os.mkdir(path, 0o710)
                return
        mode = stat.S_IMODE(os.stat(path).st_mode)
        os.rename(path, aside)
        os.mkdir(path, mode)
        fsync_dir(os.path.dirname(path) or "/")
        moved = {"path": path, "to": aside}
        if self.result["storage"].get("moved_aside"):  # an old devicemapper pool: its data and its image store
            earlier = self.result["storage"]["moved_aside"]
            moved = (earlier if isinstance(earlier, list) else [earlier]) + [moved]
        self.result["storage"]["moved_aside"] = moved

    @staticmethod
    def _mounted_at(path):
        return os.path.ismount(path)

    def _mount(self, args, where):
        """``mount -t FSTYPE -o OPTS SRC WHERE`` (the trial mount and the data root's), its (rc, out, err)."""
        return self.runner.run(mount_argv(args["fstype"], args["src"], where, args["opts"]), check_rc=False)

    def _remove_tree(self, path, what=None):
        """``rm -rf --one-file-system``: never into another mount; fails the run naming ``what`` unless it is None."""
        return self.runner.run(["rm", "-rf", "--one-file-system", path], what=what, check_rc=what is not None)

    def try_mount(self, action):
        """mount.opts proven before the engine stops: the filesystem mounted with them on a private directory
        (under /run/cow-storage, root's alone) and unmounted at once. A bad option fails here, with the engine
        running and nothing stopped or moved, instead of after the engine stopped."""
        args = action.args
        where = tempfile.mkdtemp(prefix="try-mount-", dir=private_dir(RUN_DIR, "lock"))
        try:
            rc, out, err = self._mount(args, where)
            if rc != 0:
                raise ChangeFailed("mount: %s (%s) does not mount with the options %s: %s" % (
                    args["src"], args["fstype"], args["opts"], (err or out).strip()))
            self.runner.run(["umount", where], what="unmounting the trial mount %s" % where)
        finally:
            if not os.path.ismount(where):
                os.rmdir(where)

    def carry_volumes(self, action):
        """The engine's volumes into the new data root while the engine is stopped: renamed when both lie on one
        filesystem, else copied (``cp -a``) beside their destination, verified by content hash and renamed into
        place, the original kept where it was. The journal records how, for a rollback; a resumed change finds
        the destination in place (the last rename is atomic) and leaves it."""
        src, dst, names = action.args["src"], action.args["dst"], action.args["names"]
        if os.path.isdir(dst) and set(names) <= set(os.listdir(dst)):
            self._carried(action, self.rec.get("carried") or "found in place")
            return
        if not os.path.isdir(src):
            raise ChangeFailed("carry_volumes: %s is gone; the volumes %s are not carried" % (src, ", ".join(names)))
        if os.path.isdir(dst):
            if os.listdir(dst):
                raise ChangeFailed("carry_volumes: %s holds %s now; the volumes %s are not carried over it"
                                   % (dst, ", ".join(sorted(os.listdir(dst))), ", ".join(names)))
            os.rmdir(dst)
        parent = os.path.dirname(dst)
        if not os.path.isdir(parent):
            os.makedirs(parent, 0o710)
        if os.stat(src).st_dev == os.stat(parent).st_dev:
            self.journal.update(carried="renamed")
            os.rename(src, dst)
            fsync_dir(parent)
            fsync_dir(os.path.dirname(src))
            self._carried(action, "renamed")
            return
        partial = dst + ".cow-storage-partial"
        if os.path.lexists(partial):
            self._remove_tree(partial, "removing the partial copy %s" % partial)
        self.journal.update(carried="copied")
        self.runner.run(["cp", "-a", "--reflink=auto", src, partial], what="copying the volumes %s to %s" % (", ".join(names), partial))
        failpoint("carry_volumes", "copied")
        want, have = tree_digest(src), tree_digest(partial)
        if want != have:
            self._remove_tree(partial)
            raise ChangeFailed("carry_volumes: the copy of %s differs from it (sha256 %s, %d files, %d bytes; copy %s, %d "
                               "files, %d bytes); the copy was removed, the volumes stay in %s" % ((src,) + want + have + (src,)))
        os.rename(partial, dst)
        fsync_dir(parent)
        self._carried(action, "copied, verified (sha256 %s, %d files, %d bytes); the original stays in %s" % (want + (src,)))

    def _carried(self, action, how):
        migration = self.result["storage"].setdefault("migration", {"images": [], "verified": None})
        migration["volumes"] = [{"name": n, "from": os.path.join(action.args["src"], n), "to": os.path.join(action.args["dst"], n),
                                 "how": how} for n in action.args["names"]]

    def undo_carry_volumes(self):
        for action in self.actions():
            if action.kind != "carry_volumes" or not os.path.isdir(action.args["dst"]):
                continue
            src, dst = action.args["src"], action.args["dst"]
            if self.rec.get("carried") == "renamed" and not os.path.exists(src):
                os.rename(dst, src)
            elif self.rec.get("carried") == "copied" and os.path.isdir(src):
                self._remove_tree(dst, "removing the copy %s" % dst)

    def _mounted(self, args):
        entry = find_mount(read_mounts(), args["path"])
        return entry, mount_matches(entry, args, os.path.realpath(args["src"]))

    def mount_data_root(self, action):
        args = action.args
        entry, ok = self._mounted(args)
        if ok:
            return
        if entry is not None and entry["mount_point"] == args["path"]:
            raise ChangeFailed("mount: %s is a mount of %s now, not of %s" % (args["path"], entry["source"], args["src"]))
        if not os.path.isdir(args["path"]):
            os.makedirs(args["path"], 0o710)
        mode = stat.S_IMODE(os.stat(args["path"]).st_mode)
        rc, out, err = self._mount(args, args["path"])
        if rc != 0:
            what = "%s (%s, %s) on %s" % (args["src"], args["fstype"], args["opts"], args["path"])
            raise ChangeFailed("mount: mounting %s failed: %s" % (what, (err or out).strip()))
        if not os.listdir(args["path"]):
            os.chmod(args["path"], mode)  # a new filesystem's root takes the data root's mode (0710 for Docker's)

    def make_filesystem(self, action):
        """mount.mkfs. The plan saw the device blank (or its signatures given up with mount.wipe_signatures); what it
        carries now is read again, and anything new refuses the step. A change killed inside mkfs is finished by
        making the filesystem again over the half-made one, which the journal shows is this change's own. There is
        nothing to undo: the device held nothing, or what it held was given up."""
        args = action.args
        dev = probe(self.runner, args["src"], read_mounts(), check_rc=False)
        if dev.get("error"):
            raise ChangeFailed("mount: %s; it was not formatted" % dev["error"])
        use = ("no block device" if not dev["is_block"] else "mounted on " + ", ".join(dev["mounted"]) if dev["mounted"]
               else "in use by " + ", ".join(dev["holders"]) if dev["holders"] else None)
        if use:
            raise ChangeFailed("mount: %s is %s now; it was not formatted" % (args["src"], use))
        ours = self.rec.get("resumed") and self.rec.get("current_was") == "make_filesystem"
        if dev["signatures"] and not (args["wipe"] or ours):
            raise ChangeFailed("mount: %s carries %s now, which the plan did not see; it was not formatted"
                               % (args["src"], signatures_text(dev["signatures"])))
        for argv in ([wipe_argv(dev["real"])] if dev["signatures"] else []) + [mkfs_argv(args["fstype"], args["opts"], dev["real"])]:
            rc, out, err = self.runner.run(argv, check_rc=False)
            if rc != 0:
                raise ChangeFailed("mount: %s failed (rc=%d): %s" % (" ".join(argv), rc, (err or out).strip()))
        failpoint("make_filesystem", "made")

    def write_fstab(self, action):
        args = action.args
        text = read_text(args["path"], missing_ok=True)
        new = update_fstab(text, [args["mount_point"]], fstab_line(args, args["mount_point"]))
        if new != text:
            saved = write_atomic(args["path"], new, mode=0o644, module=self.module,
                                 backup=self.rec.get("backup") and not self.rec.get("fstab_backup_file"))
            if saved:
                self.rec["fstab_backup_file"] = saved
                self.result["fstab_backup_file"] = saved

    def require_mount(self, action):
        """The docker.service drop-in (RequiresMountsFor), then ``systemctl daemon-reload`` so the next start obeys it."""
        write_atomic(action.args["path"], action.args["text"], mode=0o644, module=self.module)
        self.runner.run(["systemctl", "daemon-reload"], what="reloading systemd's units after writing %s" % action.args["path"])

    def undo_require_mount(self):
        for action in self.actions():
            if action.kind != "require_mount":
                continue
            if action.args.get("old_text") is None:
                remove_durably(action.args["path"])
            else:
                write_atomic(action.args["path"], action.args["old_text"], mode=0o644, module=self.module)
            self.runner.run(["systemctl", "daemon-reload"], check_rc=False)

    def validate(self, action):
        refusal = validation_refusal(self.runner, render_config(action.args["config"]), self.rec["config_path"],
                                     self.rec["old_config_text"] if self.rec["old_config_exists"] else None)
        if refusal:
            self.journal.finish()
            self.fail(refusal)

    def write_config(self, action):
        saved = write_atomic(self.rec["config_path"], render_config(action.args["config"]), module=self.module,
                             backup=self.rec.get("backup") and not self.rec.get("backup_file"))
        if saved:
            self.rec["backup_file"] = saved
            self.result["backup_file"] = saved

    def restart(self, action):
        since = time.time() - 1
        self.host.service("start" if action.args.get("start") else "restart")
        engine = self.host.wait()
        self.result["storage"]["restarted"] = True
        problem = None
        if not engine.get("running"):
            problem = "the engine did not come back"
        elif engine.get("driver") != action.args["driver"] or engine.get("image_store") != action.args["image_store"]:
            problem = "the engine runs %s/%s, not %s/%s" % (
                engine.get("driver"), engine.get("image_store"), action.args["driver"], action.args["image_store"])
        if problem is None:
            return
        error, log = self.host.journal(since)
        for dummy in range(5):
            # journald may take a moment to store dockerd's last words after systemd saw it fail
            if error and ("failed to start daemon" in error or "level=fatal" in error or rejected_key(error)):
                break
            time.sleep(1)
            error, log = self.host.journal(since)
        self.rollback(problem, error, log)

    def abort(self, action, msg):
        """A step failed: undo what was done (or, after an irreversible step, leave the rest to the next run)."""
        done = self.rec.get("done") or []
        if any(STEPS[k].irreversible for k in done) or STEPS[action.kind].on_failure == "journal":
            self.fail("%s; the journal %s records the change: the next run finishes it" % (msg, self.journal.path))
        self.rollback(msg, None, None, what="%s failed" % action.kind)

    def rollback(self, problem, error, log, what="restart: the engine did not start with the new configuration"):
        """Undo every step done, in reverse, and bring the engine back as it was; then fail with the truth."""
        undone = []
        done = self.rec.get("done") or []
        untouched = all(STEPS[k].engine_untouched or k == "stop_containers" for k in done) and not what.startswith("restart")
        if not untouched:
            self.host.service("stop")
        for kind in reversed(done):
            if STEPS[kind].undo:
                getattr(self, STEPS[kind].undo)()
                undone.append(kind)
        back, back_error = {"running": False}, None
        if untouched:
            back = self.host.engine()
        elif self.rec["was_running"]:
            since = time.time() - 1
            self.host.service("start")
            back = self.host.wait()
            if not back.get("running"):
                back_error = self.host.journal(since)[0]
        self.journal.finish()
        self.result["storage"].update({"rolled_back": True, "running": bool(back.get("running")),
                                       "driver": back.get("driver") if back.get("running") else None})
        if back.get("running") and untouched:
            state = "still runs on %s (it was not stopped)" % back.get("driver")
        elif back.get("running"):
            state = "restarted on %s" % back.get("driver")
        elif not self.rec["was_running"]:
            state = "left stopped as it was"
        else:
            state = ("did NOT come back either: the previous configuration does not start either (dockerd: %s)%s"
                     % (back_error or "unknown", _key_note(back_error)))
        if back.get("running"):
            self._drop_archive()
            if "stop_containers" in undone:
                started = self._start_stopped_containers()
                state += "; the containers it stopped were started again: %s" % ", ".join(started)
        cause = " (dockerd: %s)%s" % (error or "no error in the log", _key_note(error)) if what.startswith("restart") else ""
        self.fail("%s: %s%s; every step was undone (%s) and the engine %s"
                  % (what, problem, cause, ", ".join(undone) or "nothing to undo", state),
                  engine_error=error, journal=log, rolled_back=True)

    def undo_stop_containers(self):
        """Nothing while the engine is stopped: :meth:`rollback` starts them once the engine is back."""

    def undo_write_config(self):
        if self.rec["old_config_exists"]:
            write_atomic(self.rec["config_path"], self.rec["old_config_text"], module=self.module)
        else:
            remove_durably(self.rec["config_path"])

    def undo_write_fstab(self):
        for action in self.actions():
            if action.kind == "write_fstab" and self.rec.get("old_fstab_text") is not None:
                write_atomic(action.args["path"], self.rec["old_fstab_text"], module=self.module)

    def undo_mount_data_root(self):
        for action in self.actions():
            if action.kind == "mount_data_root" and self._mounted(action.args)[1]:
                self.runner.run(["umount", action.args["path"]], what="unmounting %s" % action.args["path"])

    def undo_move_aside(self):
        for action in self.actions():
            if action.kind == "move_aside" and os.path.isdir(action.args["aside"]):
                path = action.args["path"]
                if os.path.isdir(path) and not os.listdir(path):
                    os.rmdir(path)
                if not os.path.exists(path):
                    os.rename(action.args["aside"], path)

    # --- a staged migration: a second engine builds the new store while the engine serves -------------
    def _stage_action(self):
        return next((a for a in self.actions() if a.kind == "stage_images"), None)

    def _drop_stage(self):
        """Stop a staging engine this change started and remove its store (never into another mount); True when the
        change had one."""
        action = self._stage_action()
        if action is None:
            return False
        self.host.stop_stage()
        # btrfs subvolumes, if the staged driver is btrfs, are deleted first (rm cannot)
        self.remove_driver_data(Action("remove_driver_data", "remove %s" % action.args["stage"], path=action.args["stage"]))
        return True

    def stage_images(self, action):
        """Stream ``docker save`` of the running engine into ``docker load`` of a second engine on the new driver, on
        the data root's own filesystem (no archive); verify every image's ID there; catch up with images tagged
        meanwhile; stop the second engine. The running engine is not touched: until ``stop_engine`` the images stay
        usable. Progress (bytes streamed, of about how many) goes into the journal for docker_storage_info."""
        stage, driver = action.args["stage"], action.args["driver"]
        self._drop_stage()  # what an earlier, killed attempt left
        os.makedirs(stage, 0o700)
        problem = self.host.start_stage(driver, stage)
        if problem:
            self._drop_stage()
            raise ChangeFailed("stage_images: %s; the engine kept running on its driver, nothing was changed" % problem)
        images = list(action.args["images"])
        identities = dict((i["name"], self._identity(i["name"]) or i["id"]) for i in images)
        self.journal.update(ids=identities, progress={"images": len(images), "bytes_done": 0,
                                                      "bytes_about": sum(int(i.get("size") or 0) for i in images)})
        for attempt in range(2):  # the images, then those tagged on the running engine while they streamed
            rc1, rc2, moved, err = self.runner.pipe(["docker", "save"] + [i["name"] for i in images],
                                                    ["docker", "-H", self.host.stage_sock(), "load"],
                                                    progress=self._streamed)
            if rc1 != 0 or rc2 != 0:
                self._drop_stage()
                raise ChangeFailed("stage_images: docker save | docker load into the staging engine failed (rc %d, %d): %s; "
                                   "the engine kept running on its driver, nothing was changed" % (rc1, rc2, err))
            wrong = []
            for image in images:
                rc, out, dummy = self.runner.run(["docker", "-H", self.host.stage_sock(), "image", "inspect", "--format", "{{.Id}}",
                                                  image["name"]], check_rc=False)
                if out.strip() != identities[image["name"]]:
                    wrong.append("%s: %s, expected %s" % (image["name"], out.strip() or "missing", identities[image["name"]]))
            if wrong:
                self._drop_stage()
                raise ChangeFailed("stage_images: the staged store holds other image IDs: %s; nothing was changed" % "; ".join(wrong))
            rc, out, dummy = self.runner.run(["docker", "image", "ls", "--format", "{{.Repository}}:{{.Tag}} {{.ID}}"], check_rc=False)
            have = set(identities)
            images = [{"name": line.split()[0], "id": line.split()[1]} for line in out.splitlines()
                      if len(line.split()) == 2 and "<none>" not in line.split()[0] and line.split()[0] not in have]
            if not images or attempt:
                break
            identities.update((i["name"], self._identity(i["name"]) or i["id"]) for i in images)
            self.journal.update(ids=identities)
        if not self.host.stop_stage():
            self._drop_stage()
            raise ChangeFailed("stage_images: the staging engine did not stop; nothing was changed")
        migration = self.result["storage"].setdefault("migration", {"containers_left_behind": []})
        migration.update(images=[{"name": n, "id": i} for n, i in sorted(identities.items())], path="staged", archive=None,
                         verified=False, streamed_bytes=moved)

    def _streamed(self, moved):
        """Progress of the stream into the staging engine, in the journal (docker_storage_info reads it)."""
        self.journal.update(progress=dict(self.rec.get("progress") or {}, bytes_done=moved, at=int(time.time())))
        failpoint("stage_images", "streaming")

    def undo_stage_images(self):
        self._drop_stage()

    def _store_dirs(self, args):
        """The staged store's directories and where they go in the data root."""
        return [("%s/%s" % (args["stage"], sub), "%s/%s" % (args["root"].rstrip("/"), sub))
                for sub in (args["driver"], "image/%s" % args["driver"])]

    def swap_stores(self, action):
        """Rename the staged store into the data root (the same filesystem: no copy); repeatable, so a run killed
        between the two renames is finished by the next one. The rest of the staging directory is removed."""
        for src, dest in self._store_dirs(action.args):
            if os.path.lexists(src) and not os.path.lexists(dest):
                os.makedirs(os.path.dirname(dest), 0o700, exist_ok=True)
                os.rename(src, dest)
                fsync_dir(os.path.dirname(dest))
            elif not os.path.lexists(dest):
                raise ChangeFailed("swap_stores: the staged %s is gone and %s does not exist; the images are still in the "
                                   "previous driver's store" % (src, dest))
        if os.path.lexists(action.args["stage"]):
            self._remove_tree(action.args["stage"], what="removing the rest of the staging directory %s" % action.args["stage"])

    def undo_swap_stores(self):
        """The staged store out of the data root again (removed: the previous driver's store was never touched)."""
        action = next((a for a in self.actions() if a.kind == "swap_stores"), None)
        for dummy, dest in self._store_dirs(action.args) if action else []:
            self.remove_driver_data(Action("remove_driver_data", "remove %s" % dest, path=dest))

    def verify_images(self, action):
        """Every image of the staged store, by the identity the journal recorded, on the restarted engine; a
        difference rolls the whole change back (the previous driver's store is intact)."""
        names = sorted((self.rec.get("ids") or {}).keys()) or [i["name"] for i in action.args["images"]]
        wrong = self._wrong_ids([{"name": n, "id": (self.rec.get("ids") or {}).get(n)} for n in names])
        if wrong:
            raise ChangeFailed("verify_images: image IDs differ on the new store: %s" % "; ".join(wrong))
        migration = self.result["storage"].setdefault("migration", {"images": action.args["images"], "containers_left_behind": []})
        migration.update(verified=True)

    def remove_old_store(self, action):
        """The previous driver's store, once every image is verified on the new one and nothing else lives there
        (no untagged image, no container: the plan keeps it otherwise); the bytes it held are reported."""
        reclaimed = 0
        for path in action.args["paths"]:
            if not os.path.lexists(path):
                continue
            rc, out, dummy = self.runner.run(["du", "-s", "--block-size=1", "--one-file-system", path], check_rc=False)
            reclaimed += int(out.split()[0]) if rc == 0 and out.split() and out.split()[0].isdigit() else 0
            self.remove_driver_data(Action("remove_driver_data", "remove %s" % path, path=path))
        migration = self.result["storage"].setdefault("migration", {"containers_left_behind": []})
        migration.update(old_store_removed=action.args["paths"], reclaimed_bytes=reclaimed)

    def load_images(self, action):
        path = self._archive() or action.args.get("path")
        problem = foreign_control(path) if path else None
        if problem:
            self.fail("load_images: %s, so the archive %s is not loaded (it could have been swapped); the journal %s "
                      "records the change" % (problem, path, self.journal.path))
        missing = self._wrong_ids(action.args["images"])
        if missing and not (path and os.path.exists(path)):
            self.fail("load_images: %d image(s) are missing from the new store and the archive %s is gone: %s; the old "
                      "driver data was not removed. This change cannot be finished: to finish it by hand, either reach the "
                      "images where they still are (the %s store under the previous data root: set storage-driver back "
                      "to %s in %s and restart the engine, then save them) or accept their loss; then remove the journal "
                      "%s, which every run reads first" % (
                          len(missing), path or "(none recorded)", "; ".join(missing), self.rec.get("old_driver") or "previous driver",
                          self.rec.get("old_driver") or "it", self.rec.get("config_path"), self.journal.path))
        if missing:
            rc, out, err = self.runner.run(["docker", "load", "-i", path], check_rc=False)
            if rc != 0:
                self.fail("load_images: docker load -i %s failed: %s; the archive is kept and the journal %s records the "
                          "change: the next run retries the load" % (path, (err or out).strip(), self.journal.path))
            wrong = self._wrong_ids(action.args["images"])
            if wrong:
                self.fail("on_driver_change: migrate: image IDs differ after loading %s (archive kept, the next run retries): %s"
                          % (path, "; ".join(wrong)))
        self._drop_archive()
        migration = self.result["storage"].setdefault("migration", {"images": action.args["images"], "containers_left_behind": []})
        migration.update(verified=True, archive=None)

    def _identity(self, name):
        """The image's config digest (see parse.image_identity), None when the engine has no such image."""
        rc, out, dummy = self.runner.run(["docker", "image", "inspect", "--format", "{{.Id}}", name], check_rc=False)
        if rc != 0 or not out.strip():
            return None
        if not self.module.get_bin_path("ctr"):
            return out.strip()

        def fetch(digest):
            rc, text, dummy = self.runner.run(["ctr", "-n", "moby", "content", "get", digest], check_rc=False)
            return text if rc == 0 else None
        return image_identity(out.strip(), fetch)

    def _wrong_ids(self, images):
        """The images whose identity differs from the one the journal recorded at save time (or, for a record without
        them, the ID the plan saw)."""
        expected = self.rec.get("ids") or {}
        wrong = []
        for image in images:
            want = expected.get(image["name"]) or image["id"]
            have = self._identity(image["name"])
            if have != want:
                wrong.append("%s: %s, expected %s" % (image["name"], have or "missing", want))
        return wrong

    def enable_engine(self, action):  # pylint: disable=unused-argument
        self.host.enable()


def validate_text(runner, text, label):
    """``dockerd --validate`` of a daemon.json text, from a file in a directory only root can use (so check mode
    writes nothing beside the configuration): None when the engine accepts it, else its words, with the temporary
    file's name replaced by ``label`` (what the text is)."""
    fd, tmp = tempfile.mkstemp(prefix="daemon.json.validate.", dir=private_dir(RUN_DIR, "lock"))
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
        rc, out, err = runner.run(["dockerd", "--validate", "--config-file", tmp], check_rc=False)
    finally:
        os.unlink(tmp)
    return None if rc == 0 else (err or out).strip().replace(tmp, label)


def validation_refusal(runner, new_text, config_path, old_text):
    """The refusal of a configuration the engine rejects (the run's validate step, and check mode, which so predicts
    the engine left down), naming an old file that is rejected already; None when it is accepted."""
    error = validate_text(runner, new_text, "the new %s" % config_path)
    if error is None:
        return None
    old = validate_text(runner, old_text, config_path) if old_text is not None else None
    if old is not None:
        return ("config_path: %s is already rejected by the engine before this run (dockerd --validate: %s)%s; "
                "nothing was changed, fix that first" % (config_path, old, _key_note(old)))
    return "validate: dockerd --validate rejected the new configuration (nothing was changed): %s%s" % (error, _key_note(error))


def _key_note(error):
    key = rejected_key(error)
    return " (the key %s is the one the engine rejects)" % key if key else ""
