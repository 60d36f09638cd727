# -*- coding: utf-8 -*-
# Copyright: cow.storage contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""containerd's snapshotter configuration: pure parsers, the planner, and the observer/applier used by the
containerd_snapshotter module (the in-place TOML table editor is ``_toml_edit``).

config.toml is edited in place (comments, key order and every other table are kept): only the keys this module
owns are replaced, added or removed, and the result is parsed again and compared with the original document
plus exactly those keys before anything is written.
"""

from __future__ import annotations

__metaclass__ = type  # pylint: disable=invalid-name

import json
import os
import re

from ansible_collections.cow.storage.plugins.module_utils._runner import Action
from ansible_collections.cow.storage.plugins.module_utils._drivers import options_dict
from ansible_collections.cow.storage.plugins.module_utils._files import FileRefusal, check_rewritable, read_text, write_atomic
from ansible_collections.cow.storage.plugins.module_utils._dmsetup import parse_dmsetup_device, parse_thin_pool_status
from ansible_collections.cow.storage.plugins.module_utils._errors import Refusal
from ansible_collections.cow.storage.plugins.module_utils._sizes import go_units_size
from ansible_collections.cow.storage.plugins.module_utils._service import Service
from ansible_collections.cow.storage.plugins.module_utils._toml_edit import _get, edit_config, format_key, load_toml

CONFIG_PATH = "/etc/containerd/config.toml"
CONTAINERD_ROOT = "/var/lib/containerd"
DOCKER_CONFIG_PATH = "/etc/docker/daemon.json"
WAIT_SECONDS = 60


# --- parsers of tool output ----------------------------------------------------------------------------------------

def parse_plugins(text):
    """``ctr plugins ls`` -> {"<type>/<id>": status}."""
    result = {}
    for line in text.splitlines():
        fields = line.split()
        if len(fields) < 3 or fields[0] == "TYPE":
            continue
        result["%s/%s" % (fields[0], fields[1])] = fields[-1]
    return result


def parse_plugin_error(text):
    """``ctr plugins ls --detailed id==devmapper`` -> the plugin's init error message, or None."""
    lines = text.splitlines()
    for index, line in enumerate(lines):
        if line.strip().startswith("Error:"):
            rest = line.split("Error:", 1)[1].strip()
            if rest:
                return rest
            for follow in lines[index + 1:]:
                match = re.match(r"^\s*Message:\s*(.*)$", follow)
                if match:
                    return match.group(1).strip()
    return None


def parse_containerd_version(text):
    """``containerd --version`` -> "1.6.20" (upstream part of the version), or None."""
    match = re.search(r"\s(v?\d+\.\d+\.\d+)", text or "")
    return match.group(1).lstrip("v") if match else None


def dm_pool_name(ref):
    """A thin pool as an engine names it -> its device-mapper name: ``/dev/mapper/docker-thinpool`` and
    ``/dev/docker/thinpool`` (LVM's ``/dev/<vg>/<lv>`` link, dashes doubled as device-mapper does) give
    ``docker-thinpool``; a bare name is kept. None for an empty reference."""
    ref = (ref or "").strip()
    if not ref:
        return None
    parts = [p for p in ref.split("/") if p]
    if len(parts) == 3 and parts[0] == "dev" and parts[1] != "mapper":
        return "%s-%s" % (parts[1].replace("-", "--"), parts[2].replace("-", "--"))
    return parts[-1] if parts else None


def thin_pool_of_docker(daemon_json_text):
    """The device-mapper name of Docker's devicemapper pool (``dm.thinpooldev``) in daemon.json text, or None."""
    users, dummy = pools_in_use(daemon_json_text, None)
    return users[0]["pool"] if users else None


# --- snapshotters ----------------------------------------------------------------------------------------------------

class Snapshotter:
    """A containerd snapshotter plugin whose table this module writes."""

    name = None
    plugin_type = "io.containerd.snapshotter.v1"

    @classmethod
    def plugin_id(cls):
        return "%s.%s" % (cls.plugin_type, cls.name)

    @classmethod
    def table_path(cls, version):
        return ["plugins", cls.plugin_id()] if version >= 2 else ["plugins", cls.name]

    @classmethod
    def check(cls, current, params):
        """Raise Refusal for inputs this snapshotter cannot take."""

    @classmethod
    def values(cls, params):
        """The table's owned keys -> desired values (None: leave that key alone)."""
        return {}

    @classmethod
    def same(cls, key, have, want):
        return have == want


class Devmapper(Snapshotter):
    """devmapper: thin devices in a device-mapper thin pool of containerd's own."""

    name = "devmapper"

    @classmethod
    def check(cls, current, params):
        if params["state"] != "present":
            return
        pool = params["pool_name"]
        if not pool:
            raise Refusal("pool_name: the devmapper snapshotter needs the thin pool's device-mapper name")
        if "/" in pool or not re.match(r"^[A-Za-z0-9_.+-]+$", pool):
            raise Refusal("pool_name: %r is not a device-mapper name (as listed in /dev/mapper/, e.g. containerd-thinpool; "
                          "cow.storage.thinpool returns it as thinpool.dm_path)" % pool)
        if params.get("root_path") and not os.path.isabs(params["root_path"]):
            raise Refusal("root_path: %r is not an absolute path" % params["root_path"])
        size = go_units_size(params["base_image_size"])
        if not size:
            raise Refusal("base_image_size: %r is not a size containerd understands (e.g. 10GB, 8192MB)" % params["base_image_size"])
        if params.get("fs_type") == "xfs" and current.get("major") == 1 and (current.get("minor") or 0) < 7:
            raise Refusal("fs_type: xfs needs containerd 1.7 or later (this host has %s)" % current.get("version"))
        pool_info = current.get("pool") or {}
        if pool_info.get("missing"):
            raise Refusal("pool_name: there is no device-mapper device %s (%s); create the thin pool first "
                          "(cow.storage.thinpool)" % (pool, pool_info.get("error") or "dmsetup found nothing"))
        if pool_info.get("target") != "thin-pool":
            raise Refusal("pool_name: %s is a %s device, not a thin-pool (once LVM makes thin volumes in its pool, the pool "
                          "becomes a linear device over %s-tpool); give containerd a thin pool of its own"
                          % (pool, pool_info.get("target") or "non-thin-pool", pool))
        if current.get("docker_pool") == pool:
            raise Refusal("pool_name: %s is Docker's devicemapper pool (dm.thinpooldev in %s); two owners of one pool destroy "
                          "each other's devices: give containerd a thin pool of its own"
                          % (pool, current.get("docker_config_path")))
        status = pool_info.get("status") or {}
        in_use = status.get("transaction_id") or status.get("data_used_blocks")
        configured = current.get("configured") or {}
        if in_use and configured.get("pool_name") == pool and current.get("root_path") != current.get("configured_root_path"):
            raise Refusal("root_path: containerd's metadata for the devices in %s is in %s; pointing root_path at %s hides every "
                          "snapshot in the pool (move metadata.db there by hand first, with containerd stopped)"
                          % (pool, current.get("configured_root_path"), current.get("root_path")))
        if in_use and not current.get("metadata_exists"):
            raise Refusal("pool_name: %s already holds thin devices (transaction id %s, %s data blocks used) and containerd has "
                          "no devmapper metadata in %s: the pool belongs to someone else; give containerd a thin pool of its own"
                          % (pool, status.get("transaction_id"), status.get("data_used_blocks"), current.get("root_path")))

    @classmethod
    def values(cls, params):
        wanted = {
            "pool_name": params["pool_name"],
            "root_path": params.get("root_path") or None,
            "base_image_size": params["base_image_size"],
            "discard_blocks": params["discard_blocks"],
            "async_remove": params.get("async_remove"),
            "fs_type": params.get("fs_type"),
        }
        return dict((k, v) for k, v in wanted.items() if v is not None)

    @classmethod
    def same(cls, key, have, want):
        if key == "base_image_size":
            return have is not None and go_units_size(have) == go_units_size(want)
        return have == want


SNAPSHOTTERS = {"devmapper": Devmapper}


# --- thin pools the engines use ---------------------------------------------------------------------------------------

def pools_in_use(docker_text, containerd_text, docker_path=DOCKER_CONFIG_PATH, containerd_path=CONFIG_PATH):
    """Thin pools the container engines are configured to use, from the text of Docker's daemon.json
    (``dm.thinpooldev`` in ``storage-opts``) and of containerd's config.toml (the devmapper snapshotter's
    ``pool_name``); None or "" for a missing file.

    Returns ``(users, errors)``: users ``[{"pool": dm name, "engine", "path", "key"}]``; errors name the file's
    parameter (``docker_config_path``/``containerd_config_path``) when a file cannot be parsed, so a caller about to
    destroy a pool knows it cannot tell. Pure."""
    users, errors = [], []
    if (docker_text or "").strip():
        try:
            config = json.loads(docker_text)
        except ValueError as exc:
            config = None
            errors.append("docker_config_path: %s is not valid JSON (%s)" % (docker_path, exc))
        if config is not None and not isinstance(config, dict):
            errors.append("docker_config_path: %s is not a JSON object" % docker_path)
        elif config is not None:
            ref = options_dict(config.get("storage-opts") if isinstance(config.get("storage-opts"), list) else []).get("dm.thinpooldev")
            if dm_pool_name(ref):
                users.append({"pool": dm_pool_name(ref), "engine": "Docker", "path": docker_path, "key": "storage-opts dm.thinpooldev"})
    if (containerd_text or "").strip():
        try:
            doc = load_toml(containerd_text)
        except ValueError as exc:
            doc = None
            errors.append("containerd_config_path: %s is not valid TOML (%s)" % (containerd_path, exc))
        if doc is not None:
            try:
                version = int(doc.get("version", 1))
            except (TypeError, ValueError):
                version = 2
            # the table containerd reads: [plugins.devmapper] in a version 1 file, the plugin's id in 2 and 3
            table = Devmapper.table_path(version)
            name = (_get(doc, table) or {}).get("pool_name")
            if isinstance(name, str) and dm_pool_name(name):
                users.append({"pool": dm_pool_name(name), "engine": "containerd", "path": containerd_path,
                              "key": "[%s] pool_name" % format_key(table)})
    return users, errors


def read_pools_in_use(docker_path=DOCKER_CONFIG_PATH, containerd_path=CONFIG_PATH):
    """:func:`pools_in_use` of the files on this host (a missing file uses nothing; an unreadable one is an error)."""
    texts, errors = {}, []
    for param, path in (("docker_config_path", docker_path), ("containerd_config_path", containerd_path)):
        if not path:
            continue
        try:
            texts[param] = read_text(path, missing_ok=True)
        except (IOError, OSError) as exc:
            errors.append("%s: cannot read %s (%s)" % (param, path, exc.strerror or exc))
    users, parse_errors = pools_in_use(texts.get("docker_config_path"), texts.get("containerd_config_path"), docker_path, containerd_path)
    return users, errors + parse_errors


# Config schema versions, as containerd reads them (checked against containerd's sources):
# - version 2 (containerd 1.x): plugin tables by their id, [plugins."io.containerd.snapshotter.v1.devmapper"]; the CRI
#   plugin's default snapshotter is [plugins."io.containerd.grpc.v1.cri".containerd] snapshotter. containerd 1.7
#   refuses any higher version (v1.7.24 services/server/config/config.go: "unsupported config version").
# - version 3 (containerd 2.x, what its `containerd config default` writes; v2.1.9 version/version.go ConfigVersion = 3):
#   the snapshotter tables keep their ids; the CRI image service has its own plugin, and the default snapshotter is
#   [plugins."io.containerd.cri.v1.images"] snapshotter. containerd 2.x still reads a version 2 file and moves that key
#   there at load time (v2.1.9 plugins/cri/images/plugin.go configMigration), so a version 2 file keeps its own names.
KNOWN_VERSIONS = (2, 3)


def cri_path(version):
    """Where the CRI plugin (Kubernetes) takes its default snapshotter in a config of this version: (table path, key)."""
    if version >= 3:
        return ["plugins", "io.containerd.cri.v1.images"], "snapshotter"
    return ["plugins", "io.containerd.grpc.v1.cri", "containerd"], "snapshotter"


def default_version(major):
    """The schema version ``containerd config default`` writes for a containerd of this major version (None: unknown)."""
    return 3 if (major or 1) >= 2 else 2


def config_version(current):
    """The config's schema version: its ``version`` key; a file without any key (missing, empty or only comments) gets
    the version of the installed containerd (3 from containerd 2.0, else 2); a file with keys but no ``version`` is a
    version 1 file. A ``version`` that is not a whole number is returned as it is (:func:`plan` refuses it)."""
    doc = current.get("doc") or {}
    if not (current["config_exists"] and doc):
        return default_version(current.get("major"))
    version = doc.get("version", 1)
    return version if isinstance(version, int) and not isinstance(version, bool) else str(version)


def plan(current, params):
    """Observed state + parameters -> [Action]. Raises Refusal (naming the parameter) and changes nothing."""
    path = params["config_path"]
    if current.get("config_error"):
        raise Refusal("config_path: %s is not valid TOML (%s); fix it by hand, nothing was changed" % (path, current["config_error"]))
    if not current.get("version"):
        raise Refusal("containerd is not installed on this host (no containerd binary found)")
    cls = SNAPSHOTTERS[params["snapshotter"]]
    version = config_version(current)
    if not isinstance(version, int) or version > max(KNOWN_VERSIONS):
        raise Refusal("config_path: %s has version = %s; this module writes versions 2 (containerd 1.x) and 3 (containerd 2.x) "
                      "only, nothing was changed" % (path, json.dumps(version)))
    if version < 2:
        raise Refusal("config_path: %s is a version 1 configuration (no 'version = 2'), where plugin tables have other names; "
                      "convert it first (containerd config migrate, or add version = 2 and rename the tables)" % path)
    if version > default_version(current.get("major")):
        raise Refusal("config_path: %s is a version %d configuration, which containerd %s does not read (version 3 needs "
                      "containerd 2.0 or later); write it as version 2, nothing was changed" % (path, version, current["version"]))
    cls.check(current, params)
    doc = current["doc"]
    table = cls.table_path(version)
    have = _get(doc, table) or {}
    edits, changes = [], []
    if params["state"] == "present":
        wanted = cls.values(params)
        diff = dict((k, v) for k, v in wanted.items() if not cls.same(k, have.get(k), v))
        if diff:
            edits.append((table, diff))
            changes.extend("%s: %s -> %s" % (k, json.dumps(have.get(k)), json.dumps(v)) for k, v in sorted(diff.items()))
        if params["default_snapshotter"]:
            cri_table, key = cri_path(version)
            if (_get(doc, cri_table) or {}).get(key) != cls.name:
                edits.append((cri_table, {key: cls.name}))
                changes.append("CRI default snapshotter: %s -> %s" % (json.dumps((_get(doc, cri_table) or {}).get(key)), cls.name))
    else:
        if _get(doc, table) is not None:
            if current.get("snapshots") and not params["force"]:
                raise Refusal("force: containerd holds %d %s snapshot(s) (%s); removing the snapshotter's configuration hides "
                              "them and the images they belong to; set force=true to remove it anyway"
                              % (sum(current["snapshots"].values()), cls.name,
                                 ", ".join("namespace %s: %d" % kv for kv in sorted(current["snapshots"].items()))))
            edits.append((table, None))
            changes.append("remove [%s]" % format_key(table))
        cri_table, key = cri_path(version)
        if (_get(doc, cri_table) or {}).get(key) == cls.name:
            edits.append((cri_table, {key: None}))
            changes.append("CRI default snapshotter: %s -> containerd's default" % cls.name)

    actions = []
    if edits:
        if current["config_exists"] and doc:
            base, doc_base = current["config_text"], doc
        else:  # a new file, or one without keys (its comments are kept): containerd's own schema version first
            base, doc_base = "version = %d\n" % version + (current["config_text"] if current["config_exists"] else ""), {"version": version}
        new_text = edit_config(base, doc_base, edits, path)
        actions.append(Action("write_config", "write %s: %s" % (path, "; ".join(changes)), path=path, text=new_text))
    if params["restart"]:
        status = current.get("plugin_status")
        if not current.get("running") and params["state"] == "present":
            actions.append(Action("restart", "start containerd (it is not running) and check that the %s plugin loads" % cls.name))
        elif current.get("running") and (actions or (params["state"] == "present" and status != "ok")):
            why = "apply the new configuration" if actions else "load the configured %s plugin (status: %s)" % (cls.name, status)
            actions.append(Action("restart", "restart containerd to %s" % why))
    return actions


def facts(current, params, restarted=False, rolled_back=False, pending=False):
    cls = SNAPSHOTTERS[params["snapshotter"]]
    pool = current.get("pool") or {}
    status = pool.get("status") or {}
    version = config_version(current) if not current.get("config_error") else None
    return {
        "name": cls.name,
        "plugin_id": cls.plugin_id(),
        "status": current.get("plugin_status"),
        "error": current.get("plugin_error"),
        "containerd_version": current.get("version"),
        "running": bool(current.get("running")),
        "config_path": params["config_path"],
        "config_version": version if isinstance(version, int) else None,
        "pool_name": params.get("pool_name"),
        "pool_target": pool.get("target"),
        "pool_data_used_blocks": status.get("data_used_blocks"),
        "pool_data_total_blocks": status.get("data_total_blocks"),
        "pool_block_bytes": pool.get("block_bytes"),
        "root_path": current.get("root_path"),
        "snapshots": current.get("snapshots") or {},
        "restarted": restarted,
        "rolled_back": rolled_back,
        "pending_restart": pending,
    }


class ContainerdHost:
    """Observes containerd, its config, the pool; writes the config and restarts containerd (with rollback)."""

    def __init__(self, module, runner, timeout=WAIT_SECONDS):
        self.module = module
        self.runner = runner
        self.timeout = timeout
        self.svc = Service(module, runner, "containerd")

    def answers(self):
        """containerd answers on its socket (a short connect timeout: a stopped containerd costs 2 s, not 10)."""
        return self.runner.run(["ctr", "--connect-timeout", "2s", "version"], check_rc=False)[0] == 0

    def plugin_state(self, cls):
        if not self.module.get_bin_path("ctr"):
            return None, "ctr is not installed"
        rc, out, err = self.runner.run(["ctr", "plugins", "ls"], check_rc=False)
        if rc != 0:
            return None, (err or out).strip()
        status = parse_plugins(out).get("%s/%s" % (cls.plugin_type, cls.name))
        error = None
        if status and status != "ok":
            dummy, detail, dummy2 = self.runner.run(["ctr", "plugins", "ls", "--detailed", "id==%s" % cls.name], check_rc=False)
            error = parse_plugin_error(detail)
        return status, error

    def observe(self, params):
        cls = SNAPSHOTTERS[params["snapshotter"]]
        path = params["config_path"]
        try:
            check_rewritable(path, "config_path")
        except FileRefusal as exc:
            raise Refusal("%s; nothing was changed" % exc) from None
        current = {"config_path": path, "config_exists": os.path.exists(path), "config_text": "", "doc": {}}
        if current["config_exists"]:
            current["config_text"] = read_text(path)
            try:
                current["doc"] = load_toml(current["config_text"])
            except ValueError as exc:
                current["config_error"] = str(exc)
        if self.module.get_bin_path("containerd"):
            dummy, out, dummy2 = self.runner.run(["containerd", "--version"], check_rc=False)
            current["version"] = parse_containerd_version(out)
            parts = (current["version"] or "0.0").split(".")
            current["major"], current["minor"] = int(parts[0]), int(parts[1])
        if self.module.get_bin_path("ctr"):
            current["running"] = self.answers()
        if current.get("running"):
            current["plugin_status"], current["plugin_error"] = self.plugin_state(cls)
        doc = current["doc"]
        version = config_version(current) if not current.get("config_error") else 2
        table = _get(doc, cls.table_path(version if isinstance(version, int) else 2)) or {}
        current["configured"] = table
        current["configured_root_path"] = table.get("root_path") or os.path.join(doc.get("root") or CONTAINERD_ROOT, cls.plugin_id())
        current["root_path"] = params.get("root_path") or current["configured_root_path"]
        # the devmapper snapshotter keeps its pool's device metadata in <root_path>/<pool_name>.db
        current["metadata_exists"] = bool(params.get("pool_name")) and os.path.exists(
            os.path.join(current["root_path"], "%s.db" % params["pool_name"]))
        if params.get("pool_name") and "/" not in params["pool_name"]:
            current["pool"] = self.pool(params["pool_name"])
        docker_path = params["docker_config_path"]
        current["docker_config_path"] = docker_path
        if os.path.exists(docker_path):
            current["docker_pool"] = thin_pool_of_docker(read_text(docker_path))
        if params["state"] == "absent" and current.get("plugin_status") == "ok":
            current["snapshots"] = self.snapshots(cls)
        return current

    def pool(self, name):
        if not self.module.get_bin_path("dmsetup"):
            return {"missing": True, "error": "dmsetup is not installed"}
        rc, out, err = self.runner.run(["dmsetup", "table", name], check_rc=False)
        if rc != 0 or not out.strip():
            return {"missing": True, "error": "; ".join(line.strip() for line in (err or out).splitlines() if line.strip())}
        table = parse_dmsetup_device(out)[0]
        info = {"target": table["target"]}
        if table["target"] == "thin-pool":
            info["block_bytes"] = int(table["params"].split()[2]) * 512
            dummy, out, dummy2 = self.runner.run(["dmsetup", "status", name], what="reading the thin pool's status")
            line = parse_dmsetup_device(out)[0]
            info["status"] = parse_thin_pool_status(line["params"])
        return info

    def snapshots(self, cls):
        dummy, out, dummy2 = self.runner.run(["ctr", "namespaces", "ls", "-q"], what="listing containerd namespaces")
        found = {}
        for namespace in out.split():
            dummy, listing, dummy2 = self.runner.run(["ctr", "-n", namespace, "snapshots", "--snapshotter", cls.name, "ls"],
                                                     check_rc=False)
            count = len([line for line in listing.splitlines()[1:] if line.strip()])
            if count:
                found[namespace] = count
        return found

    # --- apply ------------------------------------------------------------------------------------------------------
    def write(self, path, text, backup=False):
        """Write config.toml atomically and durably (fsync), keeping its mode, owner and SELinux context."""
        return write_atomic(path, text, mode=0o644, backup=backup, module=self.module)

    def remove(self, path):
        if os.path.exists(path):
            os.unlink(path)

    def restart(self):
        dummy, out, err = self.svc.control("restart")
        if not self.svc.wait(self.answers, self.timeout, until_failed=False):
            return False, (err or out or "containerd did not answer within %d s" % self.timeout).strip()
        return True, None

    def journal(self):
        out = self.svc.journal(lines=20)
        if out is None:
            return None
        lines = [line for line in out.splitlines() if "level=error" in line or "level=fatal" in line or "failed" in line]
        return lines[-1] if lines else None
