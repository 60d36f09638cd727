# -*- coding: utf-8 -*-
# Copyright: cow.storage contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""OpenZFS for cow.storage: pure parsers and the planner of ``cow.storage.zfs_pool`` (a pool on dedicated
devices and the dataset a container engine's data root lives on), and the observer/handlers that run the
ZFS tools through the one Runner.

Everything above :class:`ZfsOps` is a pure function of text or of plain dicts. The ``zpool status`` and
``zfs get`` fixtures in ``tests/unit/fixtures/zfs`` were captured on a VM lab host (Debian 12, OpenZFS 2.1.11,
molecule/zfs).
"""

from __future__ import annotations

__metaclass__ = type  # pylint: disable=invalid-name

import os
import re

from ansible_collections.cow.storage.plugins.module_utils._errors import Refusal
from ansible_collections.cow.storage.plugins.module_utils._blockdev import probe, refuse_signatures, refuse_unusable, whole_disk, wipe_argv
from ansible_collections.cow.storage.plugins.module_utils._mountinfo import find_mount, read_mounts
from ansible_collections.cow.storage.plugins.module_utils._runner import Action

ZFS_DEV = "/dev/zfs"
# zpool create refuses these ("name is reserved"), so the plan does too
RESERVED_POOL_PREFIXES = ("mirror", "raidz", "draid", "spare")


# ---------------------------------------------------------------- parsers

def parse_zpool_status(text):
    """``zpool status -P -L`` (every imported pool) -> ``{pool: [leaf device paths]}``, in order."""
    pools, name, in_config = {}, None, False
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("pool:"):
            name, in_config = stripped.split(":", 1)[1].strip(), False
            pools[name] = []
            continue
        if stripped.startswith("config:"):
            in_config = True
            continue
        if stripped.startswith("errors:"):
            in_config = False
            continue
        if in_config and name is not None and stripped.startswith("/"):
            pools[name].append(stripped.split()[0])
    return pools


def parse_zfs_get(text):
    """``zfs get -H -p -o property,value PROPS DATASET`` -> ``{property: value}``."""
    props = {}
    for line in text.splitlines():
        if "\t" in line:
            key, value = line.split("\t", 1)
            props[key] = value
    return props


# ---------------------------------------------------------------- planner

def normalise_properties(properties):
    """Values as ZFS prints them: booleans become on/off, everything a string."""
    out = {}
    for key, value in (properties or {}).items():
        if isinstance(value, bool):
            value = "on" if value else "off"
        out[str(key).strip().lower()] = str(value).strip()
    return out


def _dataset_name(params):
    return "%s/%s" % (params["name"], params["dataset"])


def _check_params(params):
    if not params.get("devices"):
        raise Refusal("devices: give at least one device for the pool")
    for path in params["devices"]:
        if not str(path).startswith("/"):
            raise Refusal("devices: %s is not an absolute device path" % path)
    if not params.get("mountpoint", "").startswith("/"):
        raise Refusal("mountpoint: %s is not an absolute path" % params.get("mountpoint"))
    name, dataset = params["name"], params["dataset"]
    if not re.match(r"^[A-Za-z][A-Za-z0-9_.:-]*$", name or ""):
        raise Refusal("name: %r is not a pool name (a letter, then letters, digits, _ . : -)" % name)
    if name == "log" or name.startswith(RESERVED_POOL_PREFIXES):
        raise Refusal("name: %r is reserved by ZFS (log, and names beginning with %s)" % (name, ", ".join(RESERVED_POOL_PREFIXES)))
    if not dataset or dataset.startswith("/") or "@" in dataset or " " in dataset:
        raise Refusal("dataset: %r is not a dataset name under the pool" % dataset)
    if "mountpoint" in normalise_properties(params.get("properties")):
        raise Refusal("properties: give the mountpoint as the mountpoint option, not as a property")


def _check_devices(current, params):
    """Refuse devices that are missing, in use or (without wipe_signatures) carry signatures; returns the signatures to erase."""
    wipe = []
    for path in params["devices"]:
        dev = dict(current["devices"].get(path) or {}, path=path)
        refuse_unusable(dev, "devices", "a pool")
        if dev.get("pool"):
            raise Refusal("devices: %s (%s) is a device of the imported pool %s; a pool is never made on a device in use, "
                          "even with wipe_signatures; nothing was changed" % (path, dev["real"], dev["pool"]))
        found = refuse_signatures(dev, params.get("wipe_signatures"), "wipe_signatures", "the pool")
        if found:
            wipe.append((path, found))
    return wipe


def _check_pool_devices(current, params):
    """An existing pool must be on the devices asked for (compared as whole disks: ZFS partitions a whole disk)."""
    wanted = sorted(set(current["devices"][p]["disk"] for p in params["devices"] if current["devices"].get(p, {}).get("disk")))
    have = sorted(set(current["pool"]["disks"]))
    if wanted != have:
        asked = ", ".join("%s (%s)" % (p, current["devices"].get(p, {}).get("real", "?")) for p in params["devices"])
        raise Refusal("devices: pool %s exists on %s, not on %s; this module does not add, remove or replace the devices "
                      "of a pool; nothing was changed" % (params["name"], ", ".join(have) or "?", asked))


def _check_mountpoint(current, params):
    target = current.get("mountpoint") or {}
    if target.get("mounted_fs"):
        raise Refusal("mountpoint: %s is already a mount of %s (%s); the dataset would hide it; nothing was changed"
                      % (params["mountpoint"], target["mounted_fs"]["source"], target["mounted_fs"]["fstype"]))
    if target.get("exists") and not target.get("is_dir"):
        raise Refusal("mountpoint: %s exists and is not a directory; nothing was changed" % params["mountpoint"])
    entries = target.get("entries") or []
    if entries:
        raise Refusal("mountpoint: %s holds %d %s (%s) that the dataset mounted there would hide; move them away "
                      "or choose another mount point (data root); nothing was changed"
                      % (params["mountpoint"], len(entries), "entry" if len(entries) == 1 else "entries",
                         ", ".join(sorted(entries)[:10])))


def plan(current, params):
    """``current`` (observed) and the module parameters -> the actions, in order; Refusal when refused."""
    _check_params(params)
    if not current.get("zfs_loaded"):
        raise Refusal("name: the zfs kernel module is not loaded (no %s): install zfs-dkms (or the distribution's zfs "
                      "module) and load it (modprobe zfs); nothing was changed" % ZFS_DEV)
    actions = []
    pool, dataset = params["name"], _dataset_name(params)
    wanted = normalise_properties(params.get("properties"))
    if current["pool"]["exists"]:
        _check_pool_devices(current, params)
    else:
        for path, found in _check_devices(current, params):
            actions.append(Action("wipe_signatures", "erase signatures (%s) on %s" % (found, path), device=path))
        actions.append(Action("create_pool", "create pool %s on %s (ashift=%d)" % (pool, ", ".join(params["devices"]), params["ashift"]),
                              name=pool, devices=list(params["devices"]), ashift=params["ashift"],
                              force=any(a.kind == "wipe_signatures" for a in actions)))
    ds = current["dataset"]
    if not ds["exists"]:
        _check_mountpoint(current, params)
        actions.append(Action("create_dataset", "create dataset %s mounted on %s (%s)" % (
            dataset, params["mountpoint"], ", ".join("%s=%s" % kv for kv in sorted(wanted.items())) or "no properties"),
            name=dataset, mountpoint=params["mountpoint"], properties=wanted))
        return actions
    props = ds["properties"]
    if props.get("mountpoint") != params["mountpoint"]:
        raise Refusal("mountpoint: dataset %s is mounted on %s, not %s; moving a dataset (and the data on it) is not done "
                      "here; nothing was changed" % (dataset, props.get("mountpoint"), params["mountpoint"]))
    for key in sorted(wanted):
        if props.get(key) != wanted[key]:
            actions.append(Action("set_property", "set %s=%s on %s (was %s)" % (key, wanted[key], dataset, props.get(key)),
                                  name=dataset, property=key, value=wanted[key]))
    if props.get("mounted") != "yes":
        _check_mountpoint(current, params)
        actions.append(Action("mount_dataset", "mount %s on %s" % (dataset, params["mountpoint"]), name=dataset))
    return actions


def describe(current, params):
    """One state description for both sides of the diff."""
    ds = current["dataset"]
    wanted = normalise_properties(params.get("properties"))
    return {
        "pool": {"name": params["name"], "exists": current["pool"]["exists"], "devices": sorted(current["pool"]["disks"])},
        "dataset": {"name": _dataset_name(params), "exists": ds["exists"],
                    "mountpoint": ds["properties"].get("mountpoint") if ds["exists"] else None,
                    "mounted": ds["properties"].get("mounted") == "yes" if ds["exists"] else False,
                    "properties": dict((k, ds["properties"].get(k)) for k in sorted(wanted)) if ds["exists"] else {}},
    }


def predict(before, actions, current, params):
    """The state the actions lead to (check mode, and the diff's after side)."""
    after = {"pool": dict(before["pool"]), "dataset": dict(before["dataset"], properties=dict(before["dataset"]["properties"]))}
    for action in actions:
        if action.kind == "create_pool":
            after["pool"].update(exists=True, devices=sorted(current["devices"][p]["disk"] for p in params["devices"]))
        elif action.kind == "create_dataset":
            after["dataset"].update(exists=True, mountpoint=action.args["mountpoint"], mounted=True,
                                    properties=dict(sorted(action.args["properties"].items())))
        elif action.kind == "set_property":
            after["dataset"]["properties"][action.args["property"]] = action.args["value"]
        elif action.kind == "mount_dataset":
            after["dataset"]["mounted"] = True
    return after


def docker_layer_datasets(list_text, parent):
    """``zfs list -H -o name,origin -t filesystem -r PARENT`` -> the datasets Docker's zfs driver made under
    ``parent`` (``PARENT/<64 hex>`` and ``PARENT/<64 hex>-init``), in the order to destroy them: layers that are no
    clone first (``zfs destroy -R`` takes the clones of their snapshots with them), then the rest."""
    layer = re.compile(r"^%s/[0-9a-f]{64}(-init)?$" % re.escape(parent))
    rows = []
    for line in list_text.splitlines():
        fields = line.split("\t")
        if len(fields) >= 2 and layer.match(fields[0]):
            rows.append((fields[0], fields[1]))
    return [name for name, origin in sorted(rows) if origin == "-"] + [name for name, origin in sorted(rows) if origin != "-"]


def create_pool_argv(args):
    argv = ["zpool", "create"] + (["-f"] if args["force"] else [])
    return argv + ["-o", "ashift=%d" % args["ashift"], "-O", "mountpoint=none", args["name"]] + list(args["devices"])


def create_dataset_argv(args):
    argv = ["zfs", "create", "-o", "mountpoint=%s" % args["mountpoint"]]
    for key in sorted(args["properties"]):
        argv += ["-o", "%s=%s" % (key, args["properties"][key])]
    return argv + [args["name"]]


# ---------------------------------------------------------------- host

class ZfsOps:
    """Observes the pool, its devices and the dataset, and carries out planned actions, through one Runner."""

    def __init__(self, runner, zfs_dev=ZFS_DEV):
        self.runner = runner
        self.zfs_dev = zfs_dev

    def _mountpoint(self, path, mounts):
        target = {"path": path, "exists": os.path.lexists(path), "is_dir": os.path.isdir(path), "entries": []}
        entry = find_mount(mounts, path)
        if entry and entry["fstype"] != "zfs":
            target["mounted_fs"] = {"source": entry["source"], "fstype": entry["fstype"]}
        elif entry:
            target["mounted_fs"] = {"source": entry["source"], "fstype": "zfs"}
        if target["is_dir"]:
            target["entries"] = sorted(os.listdir(path))
        return target

    def observe(self, params, wanted_props=()):
        current = {"zfs_loaded": os.path.exists(self.zfs_dev), "pool": {"exists": False, "disks": []},
                   "dataset": {"exists": False, "properties": {}}}
        mounts = read_mounts()
        current["devices"] = dict((p, probe(self.runner, p, mounts)) for p in params.get("devices") or [])
        current["mountpoint"] = self._mountpoint(params["mountpoint"], mounts)
        if not current["zfs_loaded"]:
            return current
        pools = parse_zpool_status(self.runner.run(["zpool", "status", "-P", "-L"], what="zpool status")[1])
        disks = dict((pool, sorted(set(whole_disk(d) for d in devs))) for pool, devs in pools.items())
        for dev in current["devices"].values():
            dev["pool"] = next((pool for pool, found in sorted(disks.items()) if dev.get("disk") in found), None)
        if params["name"] not in pools:
            return current
        current["pool"] = {"exists": True, "disks": disks[params["name"]]}
        name = _dataset_name(params)
        props = ",".join(["mountpoint", "mounted"] + sorted(wanted_props))
        rc, out, err = self.runner.run(["zfs", "get", "-H", "-p", "-o", "property,value", props, name], check_rc=False)
        if rc == 0:
            current["dataset"] = {"exists": True, "properties": parse_zfs_get(out)}
        elif "does not exist" not in (err or out):
            self.runner.module.fail_json(msg="zfs get %s failed (rc=%d): %s" % (name, rc, (err or out).strip()), rc=rc,
                                         stdout=out, stderr=err)
        return current

    def handlers(self):
        run = self.runner.run
        return {
            "wipe_signatures": lambda a: run(wipe_argv(a.args["device"]), what=a.description),
            "create_pool": lambda a: run(create_pool_argv(a.args), what=a.description),
            "create_dataset": lambda a: run(create_dataset_argv(a.args), what=a.description),
            "set_property": lambda a: run(["zfs", "set", "%s=%s" % (a.args["property"], a.args["value"]), a.args["name"]],
                                          what=a.description),
            "mount_dataset": lambda a: run(["zfs", "mount", a.args["name"]], what=a.description),
        }
