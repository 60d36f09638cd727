# -*- coding: utf-8 -*-
# Copyright: cow.storage contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pure parsers for what the container engine and the kernel report about storage."""

from __future__ import annotations

__metaclass__ = type  # pylint: disable=invalid-name

import json
import os
import time

from ansible_collections.cow.storage.plugins.module_utils._docker_api import EngineAPI, EngineUnreachable
from ansible_collections.cow.storage.plugins.module_utils._drivers import DRIVER_DIRS, BackendError

DEFAULT_DATA_ROOT = "/var/lib/docker"


def parse_proc_filesystems(text):
    """``/proc/filesystems`` -> sorted list of filesystem names (block and virtual)."""
    names = set()
    for line in text.splitlines():
        fields = line.split()
        if fields:
            names.add(fields[-1])
    return sorted(names)


def parse_blkid_export(text):
    """``blkid -o export DEV`` -> dict of its KEY=VALUE lines."""
    out = {}
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep:
            out[key.strip()] = value.strip()
    return out


def _bool(value):
    if value is None:
        return None
    return str(value).strip().lower() == "true"


def parse_docker_info(text):
    """``docker info --format '{{json .}}'`` -> the storage facts cow.storage works with."""
    info = json.loads(text)
    status = dict((k, v) for k, v in (info.get("DriverStatus") or []) if k)
    driver_type = status.get("driver-type", "")
    return {
        "running": bool(info.get("ServerVersion")),
        "version": info.get("ServerVersion") or None,
        "driver": info.get("Driver"),
        "image_store": "containerd" if driver_type.startswith("io.containerd.snapshotter") else "graphdriver",
        "backing_filesystem": status.get("Backing Filesystem"),
        "d_type": _bool(status.get("Supports d_type")),
        "driver_status": status,
        "data_root": info.get("DockerRootDir") or DEFAULT_DATA_ROOT,
        "images": info.get("Images", 0),
        "containers": info.get("Containers", 0),
        "containers_running": info.get("ContainersRunning", 0),
        "security_options": info.get("SecurityOptions") or [],
        "warnings": info.get("Warnings") or [],
    }


def data_root_from_config(text):
    """The ``data-root`` of a daemon.json text (default when absent or empty)."""
    if not text.strip():
        return DEFAULT_DATA_ROOT
    return json.loads(text).get("data-root") or DEFAULT_DATA_ROOT


def parse_xfs_info_ftype(text):
    """``xfs_info MOUNTPOINT`` -> True/False for ``ftype=1``/``ftype=0`` (d_type), None when not reported."""
    for token in text.replace(",", " ").split():
        if token.startswith("ftype="):
            return token.split("=", 1)[1] == "1"
    return None


def parse_dmsetup_target(text):
    """``dmsetup table DEV`` -> the target type of its first segment (``thin-pool``, ``linear``...), or None."""
    for line in text.splitlines():
        fields = line.split()
        if len(fields) >= 3:
            return fields[2]
    return None


def parse_json_lines(text):
    """Output of ``docker ... --format '{{json .}}'`` (one object a line) -> list of dicts."""
    return [json.loads(line) for line in text.splitlines() if line.strip().startswith("{")]


def images_from_ls(text):
    """``docker image ls --no-trunc --format '{{json .}}'`` -> sorted [{"name": "repo:tag", "id": "sha256:..."}]."""
    out = []
    for item in parse_json_lines(text):
        out.append({"name": "%s:%s" % (item.get("Repository", "<none>"), item.get("Tag", "<none>")), "id": item.get("ID")})
    return sorted(out, key=lambda i: (i["name"], i["id"] or ""))


def containers_from_ps(text):
    """``docker ps -a --no-trunc --format '{{json .}}'`` -> sorted [{"name", "id", "state", "image"}]."""
    out = []
    for item in parse_json_lines(text):
        out.append({"name": item.get("Names"), "id": item.get("ID"), "state": item.get("State"), "image": item.get("Image")})
    return sorted(out, key=lambda c: c["name"] or "")


def _image_rows(item):
    """The ``repo:tag`` rows ``docker image ls`` shows for one image of the API (tags; else repositories known
    by digest only, with tag ``<none>``; else ``<none>:<none>``)."""
    rows = []
    for ref in item.get("RepoTags") or []:
        repo, sep, tag = ref.rpartition(":")
        if sep and repo and "/" not in tag and ref != "<none>:<none>":
            rows.append("%s:%s" % (repo, tag))
    tagged = set(row.rpartition(":")[0] for row in rows)
    for ref in item.get("RepoDigests") or []:
        repo, sep, digest = ref.partition("@")
        if sep and repo != "<none>" and digest != "<none>" and repo not in tagged:
            tagged.add(repo)
            rows.append("%s:<none>" % repo)
    return rows or ["<none>:<none>"]


def images_from_api(text):
    """Engine API ``GET /images/json`` -> the same list as :func:`images_from_ls` (one row per repo:tag)."""
    out = []
    for item in json.loads(text) or []:
        for name in _image_rows(item):
            out.append({"name": name, "id": item.get("Id")})
    return sorted(out, key=lambda i: (i["name"], i["id"] or ""))


def containers_from_api(text):
    """Engine API ``GET /containers/json?all=1`` -> the same list as :func:`containers_from_ps` (names as the CLI
    shows them: without the leading slash, link aliases left out, comma-joined)."""
    out = []
    for item in json.loads(text) or []:
        names = ",".join(n[1:] for n in item.get("Names") or [] if n.startswith("/") and n.count("/") == 1)
        out.append({"name": names, "id": item.get("Id"), "state": item.get("State"), "image": item.get("Image")})
    return sorted(out, key=lambda c: c["name"] or "")


def parse_du_bytes(text):
    """``du -sb PATH`` -> size in bytes (0 when unparsable)."""
    fields = text.split()
    return int(fields[0]) if fields and fields[0].isdigit() else 0


def engine_error_from_journal(text):
    """The engine's own start error from ``journalctl -u docker -o cat``: the last ``failed to start daemon``
    or fatal/error line, else the last line."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    for line in reversed(lines):
        if "failed to start daemon" in line or "level=fatal" in line:
            return line
    for line in reversed(lines):
        if "level=error" in line:
            return line
    return lines[-1] if lines else None


def parse_daemon_json(text):
    """daemon.json text -> dict; ``ValueError`` with a readable reason when it is not a JSON object.
    An empty (or whitespace-only) file is an empty configuration, as the engine treats it."""
    if not text.strip():
        return {}
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise ValueError("it is not valid JSON (%s)" % exc) from None
    if not isinstance(value, dict):
        raise ValueError("it is valid JSON but not an object")
    return value


# ---------------------------------------------------------------- observing a host (not pure)

WAIT_SECONDS = 90
# Where each driver keeps one entry per layer (overlay2 and fuse-overlayfs: the top directory, less "l").
LAYER_DIRS = {"vfs": "dir", "btrfs": "subvolumes", "zfs": "graph", "aufs": "diff", "devicemapper": "metadata"}


def read_text(path):
    with open(path, "rb") as handle:
        return handle.read().decode("utf-8", "surrogateescape")


class Host:
    """Observes the host and drives the engine; every command goes through the runner.

    The engine is read over its API socket (the one the docker CLI would use) when it answers there,
    else with the docker CLI, whose words then say why it does not answer."""

    def __init__(self, module, runner, params):
        self.module = module
        self.runner = runner
        self.params = params
        self.systemd = os.path.isdir("/run/systemd/system")
        self.api = EngineAPI.from_environment()
        self.api_answered = False

    def docker(self):
        return self.module.get_bin_path("docker")

    def engine(self):
        if not self.docker():
            return {"running": False, "reason": "docker CLI not installed"}
        self.api_answered = False
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
        fstype = mount.get("fstype")
        if fstype == "xfs" and self.module.get_bin_path("xfs_info"):
            rc, out, dummy = self.runner.run(["xfs_info", mount["target"]], check_rc=False)
            return parse_xfs_info_ftype(out) if rc == 0 else None
        if fstype in ("ext4", "btrfs", "zfs", "tmpfs", "ext3"):
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
        return {"path": pool, "target": parse_dmsetup_target(out)}

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

    def observe(self):
        params = self.params
        path = params["config_path"]
        exists = os.path.exists(path)
        text = read_text(path) if exists else ""
        try:
            config = parse_daemon_json(text)
        except ValueError as exc:
            raise BackendError("config_path: %s: %s; fix it by hand, nothing was changed" % (path, exc)) from None
        engine = self.engine()
        data_root = engine["data_root"] if engine.get("running") else (config.get("data-root") or DEFAULT_DATA_ROOT)
        target_root = params.get("data_root") or config.get("data-root") or data_root
        mount = self.mount_of(target_root)
        images, containers = self.listing(engine)
        try:
            filesystems = parse_proc_filesystems(read_text("/proc/filesystems"))
        except (IOError, OSError):
            filesystems = []
        return {
            "config_path": path,
            "config_exists": exists,
            "config_text": text,
            "config": config,
            "engine": engine,
            "version": self.version(engine),
            "data_root": data_root,
            "target_data_root": target_root,
            "filesystems": filesystems,
            "backing_fs": mount.get("fstype"),
            "mount_options": (mount.get("options") or "").split(",") if mount.get("options") else [],
            "d_type": self.d_type(engine, mount),
            "binaries": {"docker": bool(self.docker()),
                         "fuse-overlayfs": bool(self.module.get_bin_path("fuse-overlayfs")),
                         "zfs": bool(self.module.get_bin_path("zfs"))},
            "thinpool": self.thinpool(params.get("options")),
            "prior": self.prior(target_root),
            "images": images,
            "containers": containers,
        }

    # --- engine control --------------------------------------------------------------------------
    def service(self, verb):
        if self.systemd:
            self.runner.run(["systemctl", "reset-failed", "docker"], check_rc=False)
            return self.runner.run(["systemctl", verb, "docker"], check_rc=False)
        return self.runner.run(["service", "docker", verb], check_rc=False)

    def wait(self):
        deadline = time.time() + WAIT_SECONDS
        while True:
            engine = self.engine()
            if engine.get("running") or time.time() > deadline:
                return engine
            rc = self.runner.run(["systemctl", "is-failed", "docker"], check_rc=False)[0] if self.systemd else 1
            if rc == 0:
                return engine
            time.sleep(1)

    def journal(self):
        if not (self.systemd and self.module.get_bin_path("journalctl")):
            return None, "no journal (systemd is not running this host)"
        dummy, out, dummy2 = self.runner.run(["journalctl", "-u", "docker", "-n", "30", "--no-pager", "-o", "cat"], check_rc=False)
        tail = [line for line in out.splitlines() if "level=info" not in line and "level=debug" not in line][-15:]
        return engine_error_from_journal(out), "\n".join(tail)


def count_layers(name, path, entries):
    """Image or container layers in a driver directory (its bookkeeping directories left out)."""
    inner = LAYER_DIRS.get(name)
    if inner is None:
        return len([e for e in entries if e != "l"])
    inner_path = os.path.join(path, inner)
    return len(os.listdir(inner_path)) if os.path.isdir(inner_path) else 0
