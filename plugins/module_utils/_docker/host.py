# -*- coding: utf-8 -*-
# Copyright: cow.storage contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Observing a host's container engine and its data root, and driving the engine (start, stop, wait, journal);
every command goes through the runner. The parsers of what it reads are ``parse``."""

from __future__ import annotations

__metaclass__ = type  # pylint: disable=invalid-name

import json
import os
import signal
import subprocess
import time
import typing

from ansible_collections.cow.storage.plugins.module_utils._blockdev import probe
from ansible_collections.cow.storage.plugins.module_utils._docker.dataroot import (
    REQUIRE_MOUNT_DROPIN,
    boot_facts,
    carries,
    data_root_problems,
    fstab_matches,
    mkfs_d_type,
    mount_matches,
    parse_repositories,
    root_contents,
)
from ansible_collections.cow.storage.plugins.module_utils._docker.api import EngineAPI, EngineUnreachable
from ansible_collections.cow.storage.plugins.module_utils._errors import Refusal
from ansible_collections.cow.storage.plugins.module_utils._docker.drivers import (
    D_TYPE_FILESYSTEMS,
    DRIVER_DIRS,
    DRIVERS,
    TOOLS,
    Devicemapper,
)
from ansible_collections.cow.storage.plugins.module_utils._dmsetup import parse_dmsetup_device
from ansible_collections.cow.storage.plugins.module_utils._docker.parse import (
    DEFAULT_DATA_ROOT,
    container_from_config,
    containers_from_api,
    containers_from_ps,
    engine_error_from_journal,
    engine_error_from_journal_json,
    engine_flags,
    images_from_api,
    images_from_ls,
    parse_daemon_json,
    parse_docker_info,
    parse_du_bytes,
    parse_proc_filesystems,
    parse_unit_service,
    parse_xfs_info_ftype,
)
from ansible_collections.cow.storage.plugins.module_utils._files import (
    FileRefusal,
    check_rewritable,
    foreign_control,
    private_dir,
    read_text,
    write_atomic,
)
from ansible_collections.cow.storage.plugins.module_utils._mountinfo import find_mount, read_mounts
from ansible_collections.cow.storage.plugins.module_utils._service import Service
from ansible_collections.cow.storage.plugins.module_utils._txn import RUN_DIR, journal_name as txn_journal_name


# ---------------------------------------------------------------- observing a host (not pure)

WAIT_SECONDS = 90
# A second engine a staged migration runs beside the live one (its exec root, socket, pid file, log and an empty
# configuration, so it never reads the live engine's daemon.json): in cow.storage's root-only run directory.
STAGE_RUN = RUN_DIR + "/stage"


class Observation(typing.TypedDict):
    """What :meth:`Host.observe` returns, the one record of a Docker host the planner (``plan.plan``, whose parameter
    is ``host``), the journaled change and ``docker_storage_info`` read. Every key, and nothing else."""

    config_path: str            # daemon.json as given
    config_real_path: str       # ... with symlinks followed (the file a write replaces)
    config_exists: bool
    config_text: str
    config: dict                # daemon.json parsed
    engine: dict                # the running engine's facts (parse.parse_docker_info), {"running": False} when down
    version: str                # the engine's version (running, else the installed dockerd's)
    data_root: str              # the data root the engine runs on (or starts on)
    target_data_root: str       # the data root the change leaves
    filesystems: list           # /proc/filesystems
    backing_fs: str             # the target data root's filesystem (the requested one when a mount makes it)
    mount_options: list
    d_type: bool
    binaries: dict              # program -> found on PATH (drivers.TOOLS)
    dev_fuse: bool
    thinpool: dict              # the devicemapper pool the options name (dmsetup), or None
    prior: dict                 # driver -> its data under the target data root
    stores: dict                # driver -> image IDs in its image store on disk
    disk_containers: list       # containers on disk under the target data root
    mount: dict                 # the requested mount on the data root (dataroot.mount_facts), or None
    set_aside: list             # earlier data roots set aside by a change (<root>.cow-storage-old*)
    dm_loop_files: list         # devicemapper loop-lvm files under the data root
    dm_asides: dict             # devicemapper directories -> where a change would set them aside
    enabled: bool               # the engine is enabled at boot (None without systemd)
    boot: dict                  # what a reboot does to the data root (dataroot.boot_facts)
    engine_flags: dict          # daemon.json keys set on dockerd's command line (parse.engine_flags)
    space: dict                 # the bytes a change needs and has (plan.check_space)
    migrate_dir: dict           # migrate_path's state (another user's control)
    volumes: list               # named volumes under the data root
    target_volumes: list        # ... under the target data root when it differs
    real_roots: dict            # data root -> its real path
    images: list                # the engine's images (name, id)
    containers: list            # the engine's containers (name, state, driver)


def journal_name(config_path):
    """One journal per engine configuration (``docker`` for the default daemon.json)."""
    return txn_journal_name("docker", config_path, "/etc/docker/daemon.json")


class Host:
    """Observes the host and drives the engine; every command goes through the runner.

    The engine is read over its API socket (the one the docker CLI would use) when it answers there,
    else with the docker CLI, whose words then say why it does not answer."""

    def __init__(self, module, runner, params):
        self.module = module
        self.runner = runner
        self.params = params
        self.svc = Service(module, runner, "docker", sockets=("docker",))
        self.api = EngineAPI.from_environment()
        self.api_answered = False
        self.timeout = params.get("timeout") or WAIT_SECONDS
        self.stage_proc = None

    def docker(self):
        return self.module.get_bin_path("docker")

    def engine(self):
        if not self.docker():
            return {"running": False, "reason": "docker CLI not installed"}
        self.api_answered = False
        if self.svc.active() is False:
            # never poke the socket of a stopped engine: socket activation would start it behind our back
            return {"running": False, "reason": "docker.service is not active"}
        if self.api is not None:
            try:
                facts = parse_docker_info(self.api.get("/info"))
            except (EngineUnreachable, ValueError):
                facts = {}
            if facts.get("running"):
                self.api_answered = True
                return facts
        rc, out, err = self.runner.run(["docker", "info", "--format", "{{json .}}"], check_rc=False)
        if not out.strip().startswith("{"):
            lines = (err or out).strip().splitlines()
            return {"running": False, "reason": lines[-1] if lines else "no answer"}
        facts = parse_docker_info(out)
        if rc != 0 or not facts["running"]:
            return {"running": False, "reason": (err or "no server version").strip()}
        return facts

    def version(self, engine):
        if engine.get("running"):
            return engine["version"]
        if self.module.get_bin_path("dockerd"):
            rc, out, dummy = self.runner.run(["dockerd", "--version"], check_rc=False)
            if rc == 0:
                return out.strip().split(",")[0].replace("Docker version", "").strip()
        return None

    def mount_of(self, path):
        probe = path
        while probe != "/" and not os.path.exists(probe):
            probe = os.path.dirname(probe)
        rc, out, dummy = self.runner.run(["findmnt", "-J", "-n", "-T", probe, "-o", "TARGET,SOURCE,FSTYPE,OPTIONS"], check_rc=False)
        found = json.loads(out).get("filesystems", []) if rc == 0 and out.strip() else []
        return found[0] if found else {}

    def d_type(self, engine, mount):
        if engine.get("running") and engine.get("d_type") is not None and engine.get("backing_filesystem") == mount.get("fstype"):
            return engine["d_type"]
        return self.fs_d_type(mount.get("fstype"), mount.get("target"))

    def fs_d_type(self, fstype, where):
        """d_type of a filesystem, from its mount point or (xfs) its unmounted device."""
        if fstype == "xfs" and self.module.get_bin_path("xfs_info") and where:
            rc, out, dummy = self.runner.run(["xfs_info", where], check_rc=False)
            return parse_xfs_info_ftype(out) if rc == 0 else None
        if fstype in D_TYPE_FILESYSTEMS:
            return True
        return None

    def prior(self, root):
        found = {}
        for name in DRIVER_DIRS:
            path = os.path.join(root, name)
            if not os.path.isdir(path):
                continue
            entries = os.listdir(path)
            if not entries:
                continue
            dummy, out, dummy2 = self.runner.run(["du", "-sb", path], check_rc=False)
            found[name] = {"path": path, "size": parse_du_bytes(out), "entries": len(entries),
                           "layers": count_layers(name, path, entries)}
        return found

    def thinpool(self, options):
        pool = (options or {}).get("dm.thinpooldev")
        if not pool:
            return None
        if not self.module.get_bin_path("dmsetup"):
            return {"path": pool, "error": "dmsetup is not installed, so the thin pool cannot be checked"}
        rc, out, err = self.runner.run(["dmsetup", "table", pool], check_rc=False)
        if rc != 0:
            return {"path": pool, "error": "no such device-mapper device (%s)" % (err or out).strip()}
        segments = parse_dmsetup_device(out)
        return {"path": pool, "target": segments[0]["target"] if segments else None}

    def listing(self, engine):
        if not engine.get("running"):
            return [], []
        if self.api_answered:
            try:
                return images_from_api(self.api.get("/images/json")), containers_from_api(self.api.get("/containers/json?all=1"))
            except (EngineUnreachable, ValueError):
                pass
        dummy, out, dummy2 = self.runner.run(["docker", "image", "ls", "--no-trunc", "--format", "{{json .}}"], what="listing images")
        images = images_from_ls(out)
        dummy, out, dummy2 = self.runner.run(["docker", "ps", "-a", "--no-trunc", "--format", "{{json .}}"], what="listing containers")
        return images, containers_from_ps(out)

    def enabled(self):
        """Whether the engine starts at boot (None where systemd does not run the host)."""
        return self.svc.enabled()

    def mount_facts(self, root):
        """The requested filesystem for the data root (``mount``): in place, in fstab, or what mounting it shadows."""
        wanted = self.params.get("mount")
        if not wanted:
            return None
        fstab = wanted.get("fstab") or "/etc/fstab"
        mounts = read_mounts()
        entry = find_mount(mounts, root)
        real_src = os.path.realpath(wanted["src"])
        facts = {"wanted": wanted, "src_real": real_src, "fstab_path": fstab,
                 "fstab_text": read_text(fstab, missing_ok=True), "root_exists": os.path.isdir(root)}
        facts["in_place"] = mount_matches(entry, wanted, real_src)
        facts["fstab_ok"] = fstab_matches(facts["fstab_text"], wanted, root)
        facts["other"] = None if entry is None or facts["in_place"] else {
            "source": entry["source"], "fstype": entry["fstype"], "root": entry["root"]}
        facts["src_exists"] = os.path.exists(wanted["src"])
        if not facts["in_place"]:
            facts["contents"] = root_contents(self.prior(root), self.image_stores(root), self.disk_containers(root),
                                              self.volumes(root))
            facts["entries"] = sorted(os.listdir(root)) if facts["root_exists"] else []
            facts["aside"] = aside_path(root, os.path.exists)
            facts["d_type"] = self.fs_d_type(wanted["fstype"], real_src if facts["src_exists"] else None)
            if wanted.get("mkfs"):
                # what mount.mkfs would format: its signatures and users (read only); a device that does not carry
                # the filesystem yet gets the one mkfs makes, so the driver's checks (d_type) run against that
                facts["device"] = probe(self.runner, wanted["src"], mounts)
                if not carries(facts["device"], wanted["fstype"]):
                    facts["d_type"] = mkfs_d_type(wanted["fstype"], wanted.get("mkfs_opts"))
        return facts

    def space(self, params, engine, data_root, target_root, mount_facts):
        """What a migration needs room for: the bytes of the running driver's store (``du``) and the free bytes and
        device of the filesystems that receive the archive (migrate_path) and the new store with docker load's
        staging (the data root as it will be; None when a mount puts a new filesystem there)."""
        if params.get("on_driver_change") != "migrate" or not engine.get("running"):
            return None
        driver = engine.get("driver")
        covered = bool(mount_facts and not mount_facts["in_place"])
        store = os.path.join(data_root, driver or "")
        used = None
        if driver and os.path.isdir(store):
            # the bytes the store takes on disk, not its apparent size: loop-lvm's sparse files claim 100 GB
            dummy, out, dummy2 = self.runner.run(["du", "-s", "--block-size=1", store], check_rc=False)
            used = parse_du_bytes(out)
        return {"store_bytes": used,
                "migrate": free_space(params.get("migrate_path")),
                "target": None if covered else free_space(target_root)}

    def engine_flags(self):
        """daemon.json's keys set on dockerd's command line (``parse.engine_flags``): the unit's ExecStart
        as its drop-ins leave it, with the ``$VARS`` of its Environment= and EnvironmentFile= lines; without
        systemd, the init script's ``$DOCKER_OPTS`` from /etc/default/docker and /etc/sysconfig/docker."""
        if self.svc.systemd:
            dummy, out, dummy2 = self.runner.run(["systemctl", "show", "-p", "FragmentPath,DropInPaths", self.svc.unit_name],
                                                 check_rc=False)
            props = dict(line.partition("=")[::2] for line in out.splitlines())
            # drop-ins on disk count too (the next daemon-reload loads them), in systemd's order: by file name
            dropins = dict((os.path.basename(p), p) for p in props.get("DropInPaths", "").split())
            for directory in ("/usr/lib/systemd/system", "/lib/systemd/system", "/run/systemd/system", "/etc/systemd/system"):
                folder = os.path.join(directory, self.svc.unit_name + ".d")
                for name in sorted(os.listdir(folder)) if os.path.isdir(folder) else []:
                    if name.endswith(".conf"):
                        dropins[name] = os.path.join(folder, name)
            paths = [p for p in [props.get("FragmentPath", "")] + [dropins[n] for n in sorted(dropins)] if p]
            service = parse_unit_service([(p, read_text(p, missing_ok=True)) for p in paths])
        else:
            service = {"exec_start": ("init script", 0, "dockerd $DOCKER_OPTS $OPTIONS"), "environment": {},
                       "environment_files": [(f, True, "init script") for f in ("/etc/default/docker", "/etc/sysconfig/docker")]}
        texts = {}
        for path, dummy, dummy2 in service["environment_files"]:
            if os.path.isfile(path):
                texts[path] = read_text(path)
        return engine_flags(service, texts)

    def boot(self, root):
        """What a reboot does to the data root (``dataroot.boot_facts``), with the docker.service drop-in that
        makes the engine require its mount (``dropin``: its path and current text; None where systemd does not
        run the host)."""
        real = os.path.realpath(root)
        fstab = (self.params.get("mount") or {}).get("fstab") or "/etc/fstab"
        facts = boot_facts(read_mounts(), read_text(fstab, missing_ok=True), real)
        facts["fstab_path"] = fstab
        facts["dropin"] = {"path": REQUIRE_MOUNT_DROPIN, "text": read_text(REQUIRE_MOUNT_DROPIN, missing_ok=True) or None} \
            if self.svc.systemd else None
        return facts

    def image_stores(self, root):
        """Each graph driver's image store under ``root``: ``{driver: {"ids": [...], "tags": {ref: id}}}``."""
        stores = {}
        base = os.path.join(root, "image")
        if not os.path.isdir(base):
            return stores
        for name in sorted(os.listdir(base)):
            db = os.path.join(base, name, "imagedb", "content", "sha256")
            ids = sorted("sha256:" + i for i in os.listdir(db)) if os.path.isdir(db) else []
            try:
                tags = parse_repositories(read_text(os.path.join(base, name, "repositories.json"), missing_ok=True))
            except ValueError:
                tags = {}
            if ids or tags:
                stores[name] = {"ids": ids, "tags": tags}
        return stores

    def disk_containers(self, root):
        base = os.path.join(root, "containers")
        out = []
        for cid in sorted(os.listdir(base)) if os.path.isdir(base) else []:
            try:
                out.append(container_from_config(read_text(os.path.join(base, cid, "config.v2.json"))))
            except (IOError, OSError, ValueError):
                out.append({"id": cid, "name": cid[:12], "driver": None})
        return out

    def volumes(self, root):
        base = os.path.join(root, "volumes")
        if not os.path.isdir(base):
            return []
        return sorted(v for v in os.listdir(base) if os.path.isdir(os.path.join(base, v)))

    def observe(self):
        params = self.params
        path = params["config_path"]
        try:
            real = os.path.realpath(path) if params.get("read_only") else check_rewritable(path, "config_path")
        except FileRefusal as exc:
            raise Refusal("%s; nothing was changed" % exc) from None
        exists = os.path.exists(real)
        text = read_text(real) if exists else ""
        try:
            config = parse_daemon_json(text)
        except ValueError as exc:
            raise Refusal("config_path: %s: %s; fix it by hand, nothing was changed" % (path, exc)) from None
        engine = self.engine()
        flags = self.engine_flags()
        flag_root = (flags.get("data-root") or [{}])[-1].get("value")
        # a data root set on the command line is the one a stopped engine starts on, and the one checked
        data_root = engine["data_root"] if engine.get("running") else (config.get("data-root") or flag_root or DEFAULT_DATA_ROOT)
        target_root = params.get("data_root") or config.get("data-root") or data_root
        if params.get("data_root"):
            kind = None
            if os.path.lexists(target_root):
                kind = "dir" if os.path.isdir(target_root) else "file" if os.path.isfile(target_root) else "other"
            # symlinks resolved on both sides: a link into the current root is inside it
            problems = data_root_problems(os.path.realpath(target_root), params.get("driver"), os.path.realpath(data_root), kind,
                                          given=target_root)
            if problems:
                raise Refusal("; ".join(problems) + "; nothing was changed")
        mount_facts = self.mount_facts(target_root)
        mount = self.mount_of(target_root)
        if mount_facts and not mount_facts["in_place"]:
            # checks run against the data root as it will be: the requested filesystem, empty
            wanted = mount_facts["wanted"]
            backing, options, d_type, prior = wanted["fstype"], (wanted.get("opts") or "defaults").split(","), mount_facts["d_type"], {}
            stores, disk_containers = {}, []
        else:
            backing, options = mount.get("fstype"), (mount.get("options") or "").split(",") if mount.get("options") else []
            d_type, prior = self.d_type(engine, mount), self.prior(target_root)
            stores, disk_containers = self.image_stores(target_root), self.disk_containers(target_root)
        images, containers = self.listing(engine)
        try:
            filesystems = parse_proc_filesystems(read_text("/proc/filesystems"))
        except (IOError, OSError):
            filesystems = []
        return Observation(
            config_path=path,
            config_real_path=real,
            config_exists=exists,
            config_text=text,
            config=config,
            engine=engine,
            version=self.version(engine),
            data_root=data_root,
            target_data_root=target_root,
            filesystems=filesystems,
            backing_fs=backing,
            mount_options=options,
            d_type=d_type,
            binaries=dict((name, bool(self.module.get_bin_path(name))) for name in TOOLS),
            dev_fuse=os.path.exists("/dev/fuse"),
            thinpool=self.thinpool(params.get("options")),
            prior=prior,
            stores=stores,
            disk_containers=disk_containers,
            mount=mount_facts,
            set_aside=set_aside(target_root),
            dm_loop_files=[f for f in (os.path.join(target_root, n) for n in Devicemapper.loop_files) if os.path.isfile(f)],
            dm_asides=dict((d, aside_path(d, os.path.exists))
                           for d in (os.path.join(target_root, "devicemapper"), os.path.join(target_root, "image", "devicemapper"))
                           if os.path.isdir(d) and os.listdir(d)),
            enabled=self.enabled(),
            boot=self.boot(target_root),
            engine_flags=flags,
            space=self.space(params, engine, data_root, target_root, mount_facts),
            migrate_dir=migrate_dir(params.get("migrate_path")),
            volumes=self.volumes(data_root),
            target_volumes=self.volumes(target_root) if target_root != data_root else [],
            real_roots=dict((r, os.path.realpath(r)) for r in (data_root, target_root) if r),
            images=images,
            containers=containers,
        )

    # --- the staging engine of a staged migration --------------------------------------------------
    @staticmethod
    def stage_sock():
        return "unix://%s/docker.sock" % STAGE_RUN

    def stage_pid(self):
        try:
            pid = int(read_text(STAGE_RUN + "/dockerd.pid").strip() or 0)
        except (IOError, OSError, ValueError):
            return None
        try:
            cmdline = read_text("/proc/%d/cmdline" % pid) if pid else ""
        except (IOError, OSError):
            return None
        # a stale pid file never names another process: only a dockerd with the staging exec root is ours
        return pid if "dockerd" in cmdline and (STAGE_RUN + "/exec") in cmdline else None

    def start_stage(self, driver, data_root):
        """A second dockerd on ``data_root`` with ``driver``, its own socket and exec root under STAGE_RUN, no
        networking and an empty configuration; returns None once it answers, else why it did not."""
        private_dir(STAGE_RUN, "stage", tighten=True)
        write_atomic(STAGE_RUN + "/daemon.json", "{}\n", mode=0o600)
        log = open(STAGE_RUN + "/dockerd.log", "ab")  # pylint: disable=consider-using-with
        argv = [self.module.get_bin_path("dockerd", required=True), "--config-file", STAGE_RUN + "/daemon.json",
                "--data-root", data_root, "--exec-root", STAGE_RUN + "/exec", "--host", self.stage_sock(),
                "--pidfile", STAGE_RUN + "/dockerd.pid", "--storage-driver", driver, "--bridge", "none",
                "--iptables=false", "--ip-masq=false", "--log-level", "warn"]
        # kept, so that stop_stage reaps it (an exited child of this process stays a zombie until it is waited for);
        # run_command waits for its command to end, and this one is a daemon that must outlive the call
        self.stage_proc = subprocess.Popen(  # pylint: disable=consider-using-with,ansible-bad-function
            argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True, close_fds=True)
        log.close()
        deadline = time.time() + self.timeout
        while time.time() < deadline:
            rc, out, dummy = self.runner.run(["docker", "-H", self.stage_sock(), "info", "--format", "{{.Driver}}"], check_rc=False)
            if rc == 0 and out.strip() == driver:
                return None
            time.sleep(0.5)
        return "the staging engine did not answer within %d s: %s" % (self.timeout, read_text(STAGE_RUN + "/dockerd.log")[-600:].strip())

    def stop_stage(self):
        """Stop the staging engine (SIGTERM, then SIGKILL after ``timeout``); True when none is left. One this run
        started is waited for; one a killed run left is a child of init, which reaps it."""
        proc = self.stage_proc
        if proc is not None and proc.poll() is None:
            for sig, wait in ((signal.SIGTERM, self.timeout), (signal.SIGKILL, 10)):
                proc.send_signal(sig)
                try:
                    proc.wait(wait)
                    break
                except subprocess.TimeoutExpired:
                    continue
            self.stage_proc = None
            return proc.poll() is not None
        pid = self.stage_pid()
        if pid is None:
            return True
        for sig, wait in ((signal.SIGTERM, self.timeout), (signal.SIGKILL, 10)):
            try:
                os.kill(pid, sig)
            except OSError:
                return True
            deadline = time.time() + wait
            while time.time() < deadline:
                if not os.path.exists("/proc/%s" % pid):
                    return True
                time.sleep(0.2)
        return not os.path.exists("/proc/%s" % pid)

    # --- engine control --------------------------------------------------------------------------
    def service(self, verb):
        return self.svc.control(verb)

    def enable(self):
        return self.svc.enable()

    def stop(self):
        """Stop the engine and its socket; False when it still runs after ``timeout`` seconds."""
        self.svc.control("stop")
        return self.svc.wait_gone(lambda: self.engine().get("running"), self.timeout)

    def wait(self):
        """The engine once it answers, or as it is when systemd gives it up or ``timeout`` seconds pass."""
        found = {}

        def answers():
            found.clear()
            found.update(self.engine())
            return bool(found.get("running"))
        self.svc.wait(answers, self.timeout)
        return found

    def journal(self, since=None):
        """dockerd's own start error and the log tail since ``since`` (epoch seconds)."""
        # systemd restarts a failing engine a few times: each attempt logs dozens of lines, so the failed attempt's
        # last words can be far from the end
        out = self.svc.journal(since, lines=1000, output="json")
        if out is None:
            return None, "no journal (systemd is not running this host)"
        error = engine_error_from_journal_json(out)
        text = self.svc.journal(since, lines=60) or ""
        tail = [line for line in text.splitlines() if "level=info" not in line and "level=debug" not in line][-15:]
        return error or engine_error_from_journal(text), "\n".join(tail)


def free_space(path):
    """``{"path", "device", "free"}`` of the filesystem ``path`` would be on (its nearest existing parent), or None."""
    if not path:
        return None
    probe = os.path.realpath(path)
    while not os.path.exists(probe):
        probe = os.path.dirname(probe)
    try:
        vfs = os.statvfs(probe)
        return {"path": probe, "device": os.stat(probe).st_dev, "free": vfs.f_bavail * vfs.f_frsize}
    except OSError:
        return None


def migrate_dir(path):
    """What ``migrate_path`` is: ``{"path", "real", "exists_as", "problem"}`` (``problem``: why another user controls
    it, from ``_files.foreign_control``), None without one."""
    if not path or not os.path.isabs(path):
        return None
    real = os.path.realpath(path)
    kind = None
    if os.path.lexists(real):
        kind = "dir" if os.path.isdir(real) else "file" if os.path.isfile(real) else "other"
    return {"path": path, "real": real, "exists_as": kind, "problem": foreign_control(path)}


def set_aside(root):
    """Earlier content cow.storage set aside, still on disk: the data root's (``<root>.cow-storage-old[.N]``, before a
    mount) and an old devicemapper pool's data and image store (``<root>/devicemapper.cow-storage-old[.N]``,
    ``<root>/image/devicemapper.cow-storage-old[.N]``, before a move to another pool)."""
    found = []
    for path in (root.rstrip("/"), os.path.join(root, "devicemapper"), os.path.join(root, "image", "devicemapper")):
        parent, base = os.path.split(path)
        if os.path.isdir(parent or "/"):
            found.extend(os.path.join(parent, n) for n in os.listdir(parent or "/")
                         if n == base + ".cow-storage-old" or n.startswith(base + ".cow-storage-old."))
    return sorted(found)


def aside_path(root, exists):
    """Where the current content of a data root is moved before a filesystem is mounted on it (the first free
    ``<root>.cow-storage-old[.N]``), so it stays reachable."""
    base = root.rstrip("/") + ".cow-storage-old"
    candidate, n = base, 0
    while exists(candidate):
        n += 1
        candidate = "%s.%d" % (base, n)
    return candidate


def count_layers(name, path, entries):
    """Image or container layers in a driver directory (its bookkeeping directories left out)."""
    inner = DRIVERS[name].layer_dir if name in DRIVERS else None
    if inner is None:
        return len([e for e in entries if e != "l"])
    inner_path = os.path.join(path, inner)
    return len(os.listdir(inner_path)) if os.path.isdir(inner_path) else 0
