# -*- coding: utf-8 -*-
# Copyright: cow.storage contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The planner of the containerd_snapshotter module: observed state + parameters -> actions, and the module's facts.
Pure: nothing here runs a command or touches a file.

config.toml is edited in place (comments, key order and every other table are kept): only the keys this module
owns are replaced, added or removed, and the result is parsed again and compared with the original document
plus exactly those keys before anything is written."""

from __future__ import annotations

__metaclass__ = type  # pylint: disable=invalid-name

import json

from ansible_collections.cow.storage.plugins.module_utils._containerd.snapshotters import SNAPSHOTTERS
from ansible_collections.cow.storage.plugins.module_utils._containerd.toml_edit import _get, edit_config, format_key
from ansible_collections.cow.storage.plugins.module_utils._errors import Refusal
from ansible_collections.cow.storage.plugins.module_utils._runner import Action


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
