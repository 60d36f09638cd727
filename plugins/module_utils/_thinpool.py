# -*- coding: utf-8 -*-
# Copyright: cow.storage contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The thin pool planner of cow.storage.thinpool: extent arithmetic, refusals, the plan,
and the one state description used for the diff, check mode and the result.

Pure: everything works on the observation :meth:`._lvm.ThinPoolOps.observe` returns
and on the module parameters.
"""

from __future__ import annotations

__metaclass__ = type  # pylint: disable=invalid-name

import json
import math

from ansible_collections.cow.storage.plugins.module_utils._dmsetup import parse_thin_pool_status
from ansible_collections.cow.storage.plugins.module_utils._blockdev import refuse_unusable
from ansible_collections.cow.storage.plugins.module_utils._errors import Refusal, require_absolute
from ansible_collections.cow.storage.plugins.module_utils._lvm import MODULES_DIR, PROC_MISC, dm_name, parse_profile, profile_name, profile_text
from ansible_collections.cow.storage.plugins.module_utils._runner import Action
from ansible_collections.cow.storage.plugins.module_utils._sizes import lvm_size, lvm_size_request

MIB = 1024 * 1024
# What vgcreate uses unless told otherwise: 4 MiB extents, data starting 1 MiB into the PV.
DEFAULT_EXTENT_SIZE = 4 * MIB
DEFAULT_PE_START = MIB
THIN_CHUNK_MIN = 64 * 1024
THIN_CHUNK_MAX = 1024 * MIB
THIN_METADATA_MIN = 2 * MIB
THIN_METADATA_MAX = 16 * 1024 * MIB
# The programs a pool needs on the host: LVM's (lvm2), dmsetup, and thin_check, which LVM runs to activate a pool
# (thin-provisioning-tools). Named to the caller when missing, so a role installs them without a probe of its own.
TOOLS = ("lvcreate", "dmsetup", "thin_check")


def missing_tools(have):
    """The programs of TOOLS for which have(name) is false, in that order."""
    return [tool for tool in TOOLS if not have(tool)]


# ---------------------------------------------------------------- extents

def extents_for(nbytes, extent_size):
    """Bytes -> extents, rounded up as LVM does ("Rounding up size to full physical extent")."""
    return int(math.ceil(float(nbytes) / extent_size))


def default_metadata_size(data_bytes, chunk_size):
    """Estimate of the metadata size lvcreate picks when none is given (64 bytes per chunk, 2 MiB .. 16 GiB)."""
    estimate = data_bytes // chunk_size * 64
    return min(max(estimate, THIN_METADATA_MIN), THIN_METADATA_MAX)


# ---------------------------------------------------------------- refusals

def kernel_problem(kernel):
    """Why this kernel cannot hold a thin pool (device-mapper or its thin-pool target missing), or None. Pure."""
    kernel = kernel or {}
    if not kernel.get("device_mapper"):
        if kernel.get("dm_module"):
            return ("the kernel's device-mapper did not answer although its dm-mod module is available (dmsetup targets: %s)"
                    % (kernel.get("targets_error") or "no output"))
        return ("the kernel has no device-mapper (%s lists no device-mapper, and no dm-mod module is built in or available for "
                "kernel %s under %s; a container shares its host's kernel); load dm_mod on the host, or run this on a host or VM "
                "whose kernel has it" % (kernel.get("proc_misc", PROC_MISC), kernel.get("release") or "?", kernel.get("modules_dir", MODULES_DIR)))
    targets = kernel.get("targets")
    if targets is None:
        return ("the kernel's device-mapper targets could not be listed (dmsetup targets: %s)" % (kernel.get("targets_error") or "no output"))
    if "thin-pool" not in targets and not kernel.get("thin_pool_module"):
        return ("the kernel's device-mapper has no thin-pool target: dmsetup targets lists %s, and no dm-thin-pool module is built in "
                "or available for kernel %s under %s" % (", ".join(sorted(targets)) or "none", kernel.get("release") or "?",
                                                         kernel.get("modules_dir", MODULES_DIR)))
    return None


def engine_users(current, vg, name):
    """The engines configured to use this pool (Docker's dm.thinpooldev, containerd's devmapper pool_name), as observed."""
    dm = dm_name(vg, name)
    return [u for u in current.get("engine_users") or [] if u.get("pool") in (dm, dm + "-tpool")]


def _users_text(users):
    return "; ".join("%s names it as %s (%s)" % (u["path"], u["key"], u["engine"]) for u in users)


def _refuse_if_in_use(current, params, param, what, extra=""):
    """Refusal naming ``param`` when an engine uses the pool, or when an engine's configuration cannot be read to tell."""
    lvname = "%s/%s" % (params["vg"], params["name"])
    users = engine_users(current, params["vg"], params["name"])
    if users:
        raise Refusal("%s: thin pool %s is in use by a container engine (%s); %s is refused for a pool an engine uses%s; "
                      "point the engine at another pool first; nothing was changed" % (param, lvname, _users_text(users), what, extra))
    errors = current.get("engine_errors") or []
    if errors:
        raise Refusal("%s, so it cannot be told whether an engine uses thin pool %s; %s is refused until it can; nothing was changed"
                      % ("; ".join(errors), lvname, what))


# ---------------------------------------------------------------- planning

def _check_params(params):
    """Validate sizes and numbers; returns (size request or None, metadata bytes or None, chunk bytes)."""
    try:
        size = lvm_size_request(params["size"]) if params.get("size") is not None else None
    except ValueError as exc:
        raise Refusal("size: %s" % exc) from exc
    try:
        metadata = lvm_size(params["metadata_size"]) if params.get("metadata_size") is not None else None
    except ValueError as exc:
        raise Refusal("metadata_size: %s" % exc) from exc
    if metadata is not None and not THIN_METADATA_MIN <= metadata <= THIN_METADATA_MAX:
        raise Refusal("metadata_size: %s is outside 2m..16g, the range of thin pool metadata" % params["metadata_size"])
    try:
        chunk = lvm_size(params.get("chunk_size") or "512k", default_unit="k")
    except ValueError as exc:
        raise Refusal("chunk_size: %s" % exc) from exc
    if chunk % THIN_CHUNK_MIN or not THIN_CHUNK_MIN <= chunk <= THIN_CHUNK_MAX:
        raise Refusal("chunk_size: %s must be a multiple of 64k between 64k and 1g" % params.get("chunk_size"))
    auto = params.get("autoextend") or {}
    threshold, percent = auto.get("threshold", 80), auto.get("percent", 20)
    if threshold is None or not 50 <= threshold <= 100:
        raise Refusal("autoextend.threshold: %s must be between 50 and 100 (100 turns autoextend off)" % threshold)
    if percent is None or percent < 1:
        raise Refusal("autoextend.percent: %s must be at least 1" % percent)
    return size, metadata, chunk


def _check_devices(current, params):
    """Refuse missing devices and devices with signatures; returns (devices to wipe, to pvcreate, to add to the VG)."""
    vg = params["vg"]
    wipe, create, add = [], [], []
    for path in params.get("pvs") or []:
        dev = current["devices"].get(path)
        if not dev or not dev.get("exists"):
            raise Refusal("pvs: device %s does not exist" % path)
        if not dev.get("is_block"):
            raise Refusal("pvs: %s is not a block device" % path)
        real = dev["real"]
        pv = current["pvs"].get(real)
        if pv and pv.get("vg_name") == vg:
            continue
        if pv and pv.get("vg_name"):
            raise Refusal("pvs: %s (%s) is a physical volume of volume group %s; remove it from that VG first (vgreduce); "
                          "this module never takes devices from another VG" % (path, real, pv["vg_name"]))
        if not pv:
            refuse_unusable(dev, "pvs", "a physical volume")
            signatures = dev.get("signatures") or []
            if signatures:
                found = ", ".join("%s at %s" % (sig["type"], sig["offset"]) for sig in signatures)
                if not params.get("wipe_signatures"):
                    raise Refusal("wipe_signatures: %s (%s) carries signatures (%s); set wipe_signatures: true to erase them "
                                  "and use the device" % (path, real, found))
                wipe.append((path, found))
            create.append(path)
        if real not in [current["devices"][p]["real"] for p in add]:
            add.append(path)
    return wipe, create, add


def _new_vg_extents(current, add):
    """Estimated extent count of a VG made of the devices ``add`` (default 4 MiB extents, 1 MiB PV header)."""
    total = 0
    for path in add:
        dev = current["devices"][path]
        pv = current["pvs"].get(dev["real"])
        size = (pv or {}).get("pv_size") or dev.get("size") or 0
        total += max(0, (size - DEFAULT_PE_START) // DEFAULT_EXTENT_SIZE)
    return total


def _pool_extents(current, extent_size):
    """Extents this pool already holds: data + metadata (+ the metadata spare LVM keeps beside pools)."""
    pool = current["pool"]
    if not pool:
        return 0
    total = extents_for(pool["lv_size"] or 0, extent_size) + extents_for(pool["lv_metadata_size"] or 0, extent_size)
    return total + spare_extents(current, extent_size)


def spare_extents(current, extent_size):
    spare = [lv for lv in current.get("lvs") or [] if lv["lv_name"].endswith("_pmspare")]
    return extents_for(spare[0]["lv_size"] or 0, extent_size) if spare else 0


def desired_data_extents(request, vg_extents, available, extent_size, metadata_extents):
    """The data extents a size request means. ``available`` = free extents plus those this pool already holds.

    As lvcreate does, ``%FREE`` and ``%PVS`` leave room for the metadata LV and its spare; ``%VG`` does not.
    """
    if "bytes" in request:
        return extents_for(request["bytes"], extent_size)
    if request["of"] == "VG":
        return int(request["percent"] * vg_extents // 100)
    return int(request["percent"] * available // 100) - 2 * metadata_extents


def plan(current, params):
    """Plan the actions that bring the observed ``current`` to what ``params`` ask for.

    ``current`` is what :meth:`ThinPoolOps.observe` returns; ``params`` the module parameters.
    Raises Refusal (message names the parameter) when the request is refused. Pure.
    """
    vg, name = params["vg"], params["name"]
    lvname = "%s/%s" % (vg, name)
    for key in ("docker_config_path", "containerd_config_path"):
        require_absolute(key, params.get(key))
    pool = current.get("pool")
    other = current.get("other_lv")
    if other:
        raise Refusal("name: %s exists and is a %s LV, not a thin pool; choose another name or remove it first"
                      % (lvname, other["segtype"] or "non-thin-pool"))
    if params["state"] == "absent":
        if not pool:
            return [Action("remove_profile", "remove profile %s" % current["profile_path"], path=current["profile_path"])] \
                if current.get("profile_text") is not None else []
        _refuse_if_in_use(current, params, "state", "removing it",
                          ", even with force (it would destroy every image and container the engine keeps in it)")
        problem = kernel_problem(current.get("kernel"))
        if problem:
            raise Refusal("state: removing thin pool %s needs device-mapper: %s; nothing was changed" % (lvname, problem))
        thins = current.get("thin_volumes") or []
        if thins and not params.get("force"):
            raise Refusal("force: thin pool %s still holds thin volumes (%s); set force: true to remove them with the pool"
                          % (lvname, ", ".join(thins)))
        actions = [Action("remove_pool", "remove thin pool %s%s" % (lvname, " and its thin volumes %s" % ", ".join(thins) if thins else ""),
                          lv=lvname)]
        if current.get("profile_text") is not None:
            actions.append(Action("remove_profile", "remove profile %s" % current["profile_path"], path=current["profile_path"]))
        return actions

    size, metadata, chunk = _check_params(params)
    auto = params.get("autoextend") or {}
    threshold, percent = auto.get("threshold", 80), auto.get("percent", 20)
    problem = kernel_problem(current.get("kernel"))
    if problem:
        raise Refusal("state: present needs device-mapper with its thin-pool target, and %s; nothing was changed (no device was touched)"
                      % problem)
    if current.get("vg") is None and not params.get("pvs"):
        raise Refusal("pvs: volume group %s does not exist; list the devices to create it from in pvs" % vg)
    wipe, create, add = _check_devices(current, params)

    actions = []
    for path, found in wipe:
        actions.append(Action("wipe_signatures", "erase signatures (%s) on %s" % (found, path), device=path))
    if create:
        actions.append(Action("pvcreate", "initialise physical volume(s) %s" % ", ".join(create), devices=create))
    vginfo = current.get("vg")
    if vginfo is None:
        extent_size = DEFAULT_EXTENT_SIZE
        vg_extents = free = _new_vg_extents(current, add)
        actions.append(Action("vgcreate", "create volume group %s on %s" % (vg, ", ".join(add)), vg=vg, devices=add))
    else:
        extent_size = vginfo["vg_extent_size"]
        added = _new_vg_extents(current, add)
        vg_extents = vginfo["vg_extent_count"] + added
        free = vginfo["vg_free_count"] + added
        if add:
            actions.append(Action("vgextend", "extend volume group %s with %s" % (vg, ", ".join(add)), vg=vg, devices=add))

    prof = profile_name(vg, name)
    text = profile_text(threshold, percent)
    if current.get("profile_text") != text:
        actions.append(Action("write_profile", "write LVM profile %s (autoextend threshold %d%%, percent %d%%)"
                              % (current["profile_path"], threshold, percent), path=current["profile_path"], content=text))

    if pool is None:
        if size is None:
            raise Refusal("size: required to create thin pool %s (for example 95%%VG or 10g)" % lvname)
        guess = metadata or default_metadata_size((size.get("bytes") or int(size["percent"] * vg_extents // 100) * extent_size), chunk)
        meta_ext = extents_for(guess, extent_size)
        data_ext = desired_data_extents(size, vg_extents, free, extent_size, meta_ext)
        spare = spare_extents(current, extent_size)
        needed = data_ext + meta_ext + max(0, meta_ext - spare)
        if data_ext <= 0 or needed > free:
            raise Refusal("size: %s needs %d extents (data %d + metadata %d + metadata spare) of %s but volume group %s has only %d free "
                          "(%d bytes)" % (params["size"], needed, data_ext, meta_ext, extent_size, vg, free, free * extent_size))
        args = {"vg": vg, "name": name, "chunk_size": chunk, "zero": bool(params.get("zero")), "discards": params.get("discards"),
                "metadata_size": metadata, "profile": prof, "size_bytes": data_ext * extent_size,
                "metadata_bytes": meta_ext * extent_size, "extents": "%s%%%s" % (_num(size["percent"]), size["of"]) if "percent" in size else None}
        actions.append(Action("create_pool", "create thin pool %s: %s data, %s metadata, chunk %d, zeroing %s"
                              % (lvname, params["size"], params.get("metadata_size") or "default", chunk, "on" if args["zero"] else "off"), **args))
        return actions

    # The pool exists: converge it.
    if pool["chunk_size"] and pool["chunk_size"] != chunk:
        raise Refusal("chunk_size: thin pool %s has chunk size %d bytes, not %d; the chunk size of a pool cannot change after creation"
                      % (lvname, pool["chunk_size"], chunk))
    cur_data = extents_for(pool["lv_size"], extent_size)
    cur_meta = extents_for(pool["lv_metadata_size"] or 0, extent_size)
    spare = spare_extents(current, extent_size)
    tolerance = 1 + spare
    if size is not None:
        available = free + _pool_extents(current, extent_size)
        want = desired_data_extents(size, vg_extents, available, extent_size, cur_meta)
        if want > cur_data + tolerance:
            if want - cur_data > free:
                raise Refusal("size: growing thin pool %s to %s needs %d more extents but volume group %s has only %d free"
                              % (lvname, params["size"], want - cur_data, vg, free))
            actions.append(Action("extend_data", "extend thin pool %s from %d to %d bytes" % (lvname, cur_data * extent_size, want * extent_size),
                                  lv=lvname, size_bytes=want * extent_size))
            free -= want - cur_data
        elif want < cur_data - tolerance and threshold >= 100:
            raise Refusal("size: thin pool %s is %d bytes, more than %s (%d bytes); a thin pool cannot shrink"
                          % (lvname, pool["lv_size"], params["size"], want * extent_size))
    if metadata is not None:
        want_meta = extents_for(metadata, extent_size)
        if want_meta > cur_meta + 1:
            if 2 * (want_meta - cur_meta) > free:
                raise Refusal("metadata_size: growing the metadata of %s to %s (and its spare) needs %d free extents, volume group %s has %d"
                              % (lvname, params["metadata_size"], 2 * (want_meta - cur_meta), vg, free))
            actions.append(Action("extend_metadata", "extend the metadata of thin pool %s to %d bytes" % (lvname, want_meta * extent_size),
                                  lv=lvname, size_bytes=want_meta * extent_size))
        elif want_meta < cur_meta - 1:
            raise Refusal("metadata_size: the metadata of thin pool %s is %d bytes, more than %s; pool metadata cannot shrink"
                          % (lvname, pool["lv_metadata_size"], params["metadata_size"]))
    zero = bool(params.get("zero"))
    if pool["zero"] is not None and pool["zero"] != zero:
        actions.append(Action("set_zero", "turn zeroing of new blocks %s on %s" % ("on" if zero else "off", lvname), lv=lvname, zero=zero))
    if params.get("discards") and pool["discards"] != params["discards"]:
        _refuse_if_in_use(current, params, "discards", "changing its discards mode (%s -> %s)" % (pool["discards"], params["discards"]),
                          " (only growing it is allowed)")
        actions.append(Action("set_discards", "set discards of %s to %s" % (lvname, params["discards"]), lv=lvname, discards=params["discards"]))
    if pool["lv_profile"] != prof:
        actions.append(Action("attach_profile", "attach metadata profile %s to %s" % (prof, lvname), lv=lvname, profile=prof))
    if pool["seg_monitor"] != "monitored":
        actions.append(Action("monitor", "monitor thin pool %s with dmeventd (needed for autoextend)" % lvname, lv=lvname))
    return actions


def _num(value):
    return ("%f" % value).rstrip("0").rstrip(".")


def shrink_warning(current, params):
    """A warning when the pool is larger than ``size`` (grown by autoextend); thin pools cannot shrink, so it is left so."""
    pool = current.get("pool")
    vginfo = current.get("vg")
    if not pool or not vginfo or params.get("size") is None or params["state"] != "present":
        return None
    try:
        request = lvm_size_request(params["size"])
    except ValueError:
        return None
    extent_size = vginfo["vg_extent_size"]
    cur_meta = extents_for(pool["lv_metadata_size"] or 0, extent_size)
    available = vginfo["vg_free_count"] + _pool_extents(current, extent_size)
    want = desired_data_extents(request, vginfo["vg_extent_count"], available, extent_size, cur_meta)
    if extents_for(pool["lv_size"], extent_size) > want + 1 + spare_extents(current, extent_size):
        return ("size: thin pool %s/%s is %d bytes, larger than %s (%d bytes), most likely grown by autoextend; "
                "thin pools cannot shrink, so it is left as it is" % (params["vg"], params["name"], pool["lv_size"], params["size"], want * extent_size))
    return None


# ---------------------------------------------------------------- describe, predict, facts

def describe(current):
    """The one state description used for both sides of the diff (sizes in bytes, sorted lists)."""
    pool = current.get("pool") if current else None
    state = {
        "vg_exists": bool(current and current.get("vg")),
        "vg_devices": sorted(current.get("vg_devices") or []) if current else [],
        "profile": current.get("profile_text") if current else None,
        "pool": None,
    }
    if pool:
        state["pool"] = {
            "size": pool["lv_size"],
            "metadata_size": pool["lv_metadata_size"],
            "chunk_size": pool["chunk_size"],
            "zero": pool["zero"],
            "discards": pool["discards"],
            "profile": pool["lv_profile"],
            "monitored": pool["seg_monitor"] == "monitored",
            "thin_volumes": sorted(current.get("thin_volumes") or []),
        }
    return state


def predict(before, actions, current):
    """Fold ``actions`` over the description ``before``: the state they will leave (check mode's "after")."""
    after = json.loads(json.dumps(before))
    for action in actions:
        args = action.args
        kind = action.kind
        if kind in ("vgcreate", "vgextend"):
            after["vg_exists"] = True
            after["vg_devices"] = sorted(set(after["vg_devices"]) | set(current["devices"][d]["real"] for d in args["devices"]))
        elif kind == "write_profile":
            after["profile"] = args["content"]
        elif kind == "remove_profile":
            after["profile"] = None
        elif kind == "remove_pool":
            after["pool"] = None
        elif kind == "create_pool":
            after["pool"] = {"size": args["size_bytes"], "metadata_size": args["metadata_bytes"], "chunk_size": args["chunk_size"],
                             "zero": args["zero"], "discards": args["discards"] or "passdown", "profile": args["profile"],
                             "monitored": True, "thin_volumes": []}
        elif kind == "extend_data":
            after["pool"]["size"] = args["size_bytes"]
        elif kind == "extend_metadata":
            after["pool"]["metadata_size"] = args["size_bytes"]
        elif kind == "set_zero":
            after["pool"]["zero"] = args["zero"]
        elif kind == "set_discards":
            after["pool"]["discards"] = args["discards"]
        elif kind == "attach_profile":
            after["pool"]["profile"] = args["profile"]
        elif kind == "monitor":
            after["pool"]["monitored"] = True
    return after


def facts(current, vg, name):
    """The ``thinpool`` return value from an observation (empty when there is no pool)."""
    pool = current.get("pool")
    if not pool:
        return {}
    dm = dm_name(vg, name)
    table = current.get("dm_table") or {}
    status = current.get("dm_status") or {}
    target = (table.get(dm) or [{}])[0].get("target")
    # With LVM thin volumes active, LVM puts the thin-pool target on <dm>-tpool and maps <dm> linearly over it.
    pool_dev = dm + "-tpool" if dm + "-tpool" in table else dm
    pool_target = (table.get(pool_dev) or [{}])[0].get("target")
    pool_status = None
    for seg in status.get(pool_dev) or []:
        if seg["target"] == "thin-pool":
            pool_status = parse_thin_pool_status(seg["params"])
    return {
        "vg": vg,
        "name": name,
        "dm_path": pool.get("lv_dm_path") or "/dev/mapper/" + dm,
        "dm_target": target,
        "dm_pool_path": "/dev/mapper/" + pool_dev if pool_target == "thin-pool" else None,
        "size": pool["lv_size"],
        "metadata_size": pool["lv_metadata_size"],
        "chunk_size": pool["chunk_size"],
        "zero": pool["zero"],
        "discards": pool["discards"],
        "data_percent": pool["data_percent"],
        "metadata_percent": pool["metadata_percent"],
        "monitored": pool["seg_monitor"] == "monitored",
        "seg_monitor": pool["seg_monitor"],
        "profile": pool["lv_profile"],
        "profile_path": current.get("profile_path"),
        "autoextend": parse_profile(current.get("profile_text")),
        "thin_volumes": sorted(current.get("thin_volumes") or []),
        "pool_status": pool_status,
        "vg_free": (current.get("vg") or {}).get("vg_free"),
        "used_by": [{"engine": u["engine"], "path": u["path"], "key": u["key"]} for u in engine_users(current, vg, name)],
    }


def monitor_warning(thinpool, threshold):
    """A warning when an active pool that should autoextend is not monitored by dmeventd (checked on the observed state)."""
    if not thinpool or thinpool.get("monitored") or threshold >= 100 or thinpool.get("data_percent") is None:
        return None
    return ("thin pool %s/%s is not monitored by dmeventd (seg_monitor %r), so it will never autoextend; "
            "dmeventd must be running (systemd: dm-event.socket, lvm2-monitor.service) and activation/monitoring enabled in lvm.conf"
            % (thinpool["vg"], thinpool["name"], thinpool.get("seg_monitor") or ""))


def usage_warnings(thinpool, threshold):
    """Warnings when data or metadata use of the pool has reached ``threshold`` percent."""
    warnings = []
    for key in ("data", "metadata"):
        value = thinpool.get(key + "_percent")
        if value is not None and value >= threshold:
            warnings.append("thin pool %s/%s: %s is %.2f%% full (threshold %d%%)%s"
                            % (thinpool["vg"], thinpool["name"], key, value, threshold,
                               "" if thinpool.get("monitored") else "; the pool is not monitored, so it will not autoextend"))
    if thinpool.get("pool_status") and thinpool["pool_status"].get("mode") not in (None, "rw"):
        warnings.append("thin pool %s/%s is in %s mode" % (thinpool["vg"], thinpool["name"], thinpool["pool_status"]["mode"]))
    return warnings
