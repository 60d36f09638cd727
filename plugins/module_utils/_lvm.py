# -*- coding: utf-8 -*-
# Copyright: cow.storage contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""LVM for cow.storage: pure parsers, extent arithmetic, the
thin pool planner, and the observer/handlers that run the LVM tools through
the one Runner.

Everything above :class:`ThinPoolOps` is a pure function of text or of plain
dicts. ``pvs``/``vgs``/``wipefs``/``lvs``/``dmsetup`` output in ``tests/unit/fixtures/lvm``
was captured from Debian 12 (lvm2 2.03.16, util-linux 2.38, kernel 6.1): pvs/vgs/wipefs
on loop devices, lvs and dmsetup on a VM lab host with dm-thin (molecule/thinpool).
The one fixture whose name says ``handwritten`` (a GPT wipefs report) follows wipefs(8).
"""

from __future__ import annotations

__metaclass__ = type  # pylint: disable=invalid-name

import json
import math
import os
import re
import stat

from ansible_collections.cow.storage.plugins.module_utils._files import read_text, write_atomic
from ansible_collections.cow.storage.plugins.module_utils._dmsetup import (  # parse_dmsetup, parse_thin_pool_status: _containerd imports them from here
    parse_dmsetup, parse_dmsetup_targets, parse_thin_pool_status,
)
from ansible_collections.cow.storage.plugins.module_utils._errors import Refusal
from ansible_collections.cow.storage.plugins.module_utils._runner import Action
from ansible_collections.cow.storage.plugins.module_utils._sizes import lvm_size, lvm_size_request

PROFILE_DIR = "/etc/lvm/profile"
PROC_MISC = "/proc/misc"
MODULES_DIR = "/lib/modules"
MIB = 1024 * 1024
# What vgcreate uses unless told otherwise: 4 MiB extents, data starting 1 MiB into the PV.
DEFAULT_EXTENT_SIZE = 4 * MIB
DEFAULT_PE_START = MIB
THIN_CHUNK_MIN = 64 * 1024
THIN_CHUNK_MAX = 1024 * MIB
THIN_METADATA_MIN = 2 * MIB
THIN_METADATA_MAX = 16 * 1024 * MIB

PV_FIELDS = "pv_name,vg_name,pv_size,pv_free,pv_uuid"
VG_FIELDS = "vg_name,vg_size,vg_free,vg_extent_size,vg_extent_count,vg_free_count,pv_count,lv_count"
LV_FIELDS = ("vg_name,lv_name,lv_attr,segtype,lv_size,lv_metadata_size,chunk_size,zero,discards,seg_monitor,"
             "lv_profile,pool_lv,origin,data_percent,metadata_percent,lv_dm_path")
REPORT_OPTIONS = ["--reportformat", "json", "--units", "b", "--nosuffix"]


# ---------------------------------------------------------------- extents

def extents_for(nbytes, extent_size):
    """Bytes -> extents, rounded up as LVM does ("Rounding up size to full physical extent")."""
    return int(math.ceil(float(nbytes) / extent_size))


def default_metadata_size(data_bytes, chunk_size):
    """Estimate of the metadata size lvcreate picks when none is given (64 bytes per chunk, 2 MiB .. 16 GiB)."""
    estimate = data_bytes // chunk_size * 64
    return min(max(estimate, THIN_METADATA_MIN), THIN_METADATA_MAX)


# ---------------------------------------------------------------- parsers

def _report(text, key):
    """The rows of ``key`` (pv, vg, lv) of an LVM ``--reportformat json`` report."""
    text = text.strip()
    if not text:
        return []
    data = json.loads(text)
    rows = []
    for report in data.get("report", []):
        rows.extend(report.get(key, []))
    return rows


def _int_or_none(value):
    if value is None or value == "":
        return None
    return int(float(value))


def _float_or_none(value):
    if value is None or value == "":
        return None
    return float(value)


def _bare(name):
    """``[pool_tdata]`` (hidden LV as ``lvs -a`` shows it) -> ``pool_tdata``."""
    return (name or "").strip("[]")


def _binary(value):
    """A binary LVM field: ``zero`` / ``1`` -> True; ``""`` / ``0`` -> False; ``-1``/unknown -> None."""
    if value in ("1", "zero", "yes"):
        return True
    if value in ("0", "", "no"):
        return False
    return None


def parse_pvs(text):
    """``pvs --reportformat json --units b --nosuffix -o PV_FIELDS`` -> list of dicts (``vg_name`` None for orphans)."""
    return [{"pv_name": row["pv_name"], "vg_name": row.get("vg_name") or None, "pv_size": _int_or_none(row.get("pv_size")),
             "pv_free": _int_or_none(row.get("pv_free")), "pv_uuid": row.get("pv_uuid")} for row in _report(text, "pv")]


def parse_vgs(text):
    """``vgs --reportformat json --units b --nosuffix -o VG_FIELDS`` -> ``{vg_name: dict with int sizes and counts}``."""
    result = {}
    for row in _report(text, "vg"):
        vg = {"vg_name": row["vg_name"]}
        for key in ("vg_size", "vg_free", "vg_extent_size", "vg_extent_count", "vg_free_count", "pv_count", "lv_count"):
            vg[key] = _int_or_none(row.get(key))
        result[row["vg_name"]] = vg
    return result


def parse_lvs(text):
    """``lvs -a --reportformat json --units b --nosuffix -o LV_FIELDS`` -> list of LV dicts, one per LV.

    Hidden LVs lose their brackets; an LV with several segments is reported once (its first segment).
    """
    result, seen = [], set()
    for row in _report(text, "lv"):
        name = _bare(row.get("lv_name"))
        key = (row.get("vg_name"), name)
        if key in seen:
            continue
        seen.add(key)
        result.append({
            "vg_name": row.get("vg_name"),
            "lv_name": name,
            "hidden": (row.get("lv_name") or "").startswith("["),
            "lv_attr": row.get("lv_attr") or "",
            "segtype": row.get("segtype") or "",
            "lv_size": _int_or_none(row.get("lv_size")),
            "lv_metadata_size": _int_or_none(row.get("lv_metadata_size")),
            "chunk_size": _int_or_none(row.get("chunk_size")),
            "zero": _binary(row.get("zero")),
            "discards": row.get("discards") or None,
            "seg_monitor": row.get("seg_monitor") or "",
            "lv_profile": row.get("lv_profile") or None,
            "pool_lv": _bare(row.get("pool_lv")) or None,
            "origin": _bare(row.get("origin")) or None,
            "data_percent": _float_or_none(row.get("data_percent")),
            "metadata_percent": _float_or_none(row.get("metadata_percent")),
            "lv_dm_path": row.get("lv_dm_path") or None,
        })
    return result


def parse_wipefs(text):
    """``wipefs --no-act --json DEV`` -> list of ``{"type", "offset", "uuid", "label"}`` (empty when clean)."""
    text = text.strip()
    if not text:
        return []
    return [{"type": sig.get("type"), "offset": sig.get("offset"), "uuid": sig.get("uuid"), "label": sig.get("label")}
            for sig in json.loads(text).get("signatures", [])]


def parse_profile(text):
    """The ``thin_pool_autoextend_*`` settings of an LVM profile -> ``{"threshold": int, "percent": int}`` (keys present only)."""
    result = {}
    for key, value in re.findall(r"thin_pool_autoextend_(threshold|percent)\s*=\s*(\d+)", text or ""):
        result[key] = int(value)
    return result


def parse_proc_misc(text):
    """``/proc/misc`` (``<minor> <name>`` lines) -> set of names; ``device-mapper`` is there when the kernel has device-mapper."""
    names = set()
    for line in (text or "").splitlines():
        fields = line.split()
        if len(fields) == 2:
            names.add(fields[1])
    return names


def module_listed(name, modules_dep_text, modules_builtin_text=""):
    """Whether kernel module ``name`` (``dm-thin-pool``) is built in or can be loaded, from the kernel's ``modules.builtin``
    and ``modules.dep`` (``kernel/drivers/md/dm-thin-pool.ko.xz: ...``): the kernel loads it by itself when LVM first loads
    a table with its target."""
    wanted = name.replace("_", "-")  # modprobe treats - and _ alike
    for text in (modules_builtin_text or "", modules_dep_text or ""):
        for line in text.splitlines():
            path = line.split(":", 1)[0].strip()
            if path and os.path.basename(path).split(".ko", 1)[0].replace("_", "-") == wanted:
                return True
    return False


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


def profile_text(threshold, percent):
    return ("# Managed by cow.storage.thinpool\n"
            "activation {\n"
            "\tthin_pool_autoextend_threshold=%d\n"
            "\tthin_pool_autoextend_percent=%d\n"
            "}\n" % (threshold, percent))


def dm_name(vg, lv):
    """Device-mapper name of an LV: dashes inside names are doubled (``my-vg``/``pool`` -> ``my--vg-pool``)."""
    return "%s-%s" % (vg.replace("-", "--"), lv.replace("-", "--"))


def profile_name(vg, name):
    return "%s-%s" % (vg, name)


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
        if params.get(key) and not os.path.isabs(params[key]):
            raise Refusal("%s: %s is relative; give an absolute path" % (key, params[key]))
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


# ---------------------------------------------------------------- observe and apply (not pure)

def _block_size(real):
    try:
        return int(read_text("/sys/class/block/%s/size" % os.path.basename(real)).strip()) * 512
    except (IOError, OSError, ValueError):
        return None


class ThinPoolOps:
    """Observes a VG and its thin pool and carries out planned actions, through one Runner."""

    def __init__(self, runner, profile_dir=PROFILE_DIR, proc_misc=PROC_MISC, modules_dir=MODULES_DIR):
        self.runner = runner
        self.profile_dir = profile_dir
        self.proc_misc = proc_misc
        self.modules_dir = modules_dir

    def _modules(self, release):
        """The kernel's ``modules.dep`` and ``modules.builtin`` texts ("" when missing, as in a container)."""
        texts = []
        for name in ("modules.dep", "modules.builtin"):
            try:
                texts.append(read_text(os.path.join(self.modules_dir, release, name)))
            except (IOError, OSError):
                texts.append("")
        return texts

    def kernel(self):
        """What the kernel offers thin pools: device-mapper (``/proc/misc``), its targets (``dmsetup targets``) and, when
        thin-pool is not loaded yet, whether the dm-thin-pool module is available.

        When /proc/misc lists no device-mapper but the dm-mod module is available (Debian loads it on the first open of
        /dev/mapper/control), ``dmsetup targets`` is what loads and so confirms it; without the module nothing is run."""
        kernel = {"proc_misc": self.proc_misc, "modules_dir": self.modules_dir, "release": os.uname()[2]}
        try:
            kernel["device_mapper"] = "device-mapper" in parse_proc_misc(read_text(self.proc_misc))
        except (IOError, OSError):
            kernel["device_mapper"] = False
        modules = None
        if not kernel["device_mapper"]:
            modules = self._modules(kernel["release"])
            kernel["dm_module"] = module_listed("dm-mod", *modules)
            if not kernel["dm_module"]:
                return kernel
        rc, out, err = self.runner.run(["dmsetup", "targets"], check_rc=False)
        if rc != 0:
            kernel["targets"], kernel["targets_error"] = None, (err or out).strip()
            return kernel
        kernel["device_mapper"] = True
        kernel["targets"] = parse_dmsetup_targets(out)
        if "thin-pool" not in kernel["targets"]:
            kernel["thin_pool_module"] = module_listed("dm-thin-pool", *(modules or self._modules(kernel["release"])))
        return kernel

    def _device(self, path, pvs):
        dev = {"path": path, "exists": os.path.exists(path), "real": os.path.realpath(path), "is_block": False, "signatures": []}
        if not dev["exists"]:
            return dev
        dev["is_block"] = stat.S_ISBLK(os.stat(path).st_mode)
        if not dev["is_block"]:
            return dev
        dev["size"] = _block_size(dev["real"])
        if dev["real"] not in pvs:
            out = self.runner.run(["wipefs", "--no-act", "--json", dev["real"]], what="wipefs --no-act %s" % path)[1]
            dev["signatures"] = parse_wipefs(out)
        return dev

    def observe(self, vg, name, devices=()):
        """The kernel first, then LVM. A kernel without device-mapper on a host without the LVM tools (a plain container)
        has no LVM state to observe: no VG or pool can be active there, and the planner refuses to make one."""
        kernel = self.kernel()
        pvs, vgs = {}, {}
        if kernel["device_mapper"] or self.runner.module.get_bin_path("pvs"):
            out = self.runner.run(["pvs"] + REPORT_OPTIONS + ["-o", PV_FIELDS], what="pvs")[1]
            for pv in parse_pvs(out):
                pvs[os.path.realpath(pv["pv_name"])] = pv
            vgs = parse_vgs(self.runner.run(["vgs"] + REPORT_OPTIONS + ["-o", VG_FIELDS], what="vgs")[1])
        current = {
            "kernel": kernel,
            "vg": vgs.get(vg),
            "pvs": pvs,
            "vg_devices": [path for path, pv in pvs.items() if pv["vg_name"] == vg],
            "devices": dict((path, self._device(path, pvs)) for path in devices),
            "lvs": [],
            "pool": None,
            "other_lv": None,
            "thin_volumes": [],
            "profile_path": os.path.join(self.profile_dir, profile_name(vg, name) + ".profile"),
        }
        try:
            current["profile_text"] = read_text(current["profile_path"])
        except (IOError, OSError):
            current["profile_text"] = None
        if current["vg"] is None:
            return current
        out = self.runner.run(["lvs", "-a", "--binary"] + REPORT_OPTIONS + ["-o", LV_FIELDS, vg], what="lvs %s" % vg)[1]
        current["lvs"] = parse_lvs(out)
        for lv in current["lvs"]:
            if lv["lv_name"] == name:
                if lv["segtype"] == "thin-pool":
                    current["pool"] = lv
                else:
                    current["other_lv"] = lv
            elif lv["pool_lv"] == name and lv["segtype"] == "thin":
                current["thin_volumes"].append(lv["lv_name"])
        if current["pool"] and current["pool"]["lv_attr"][4:5] == "a":
            current["dm_table"] = parse_dmsetup(self.runner.run(["dmsetup", "table"], what="dmsetup table")[1])
            current["dm_status"] = parse_dmsetup(self.runner.run(["dmsetup", "status"], what="dmsetup status")[1])
        return current

    def handlers(self):
        run = self.runner.run
        return {
            "wipe_signatures": lambda a: run(["wipefs", "--all", a.args["device"]], what=a.description),
            "pvcreate": lambda a: run(["pvcreate"] + a.args["devices"], what=a.description),
            "vgcreate": lambda a: run(["vgcreate", a.args["vg"]] + a.args["devices"], what=a.description),
            "vgextend": lambda a: run(["vgextend", a.args["vg"]] + a.args["devices"], what=a.description),
            "write_profile": self._write_profile,
            "remove_profile": lambda a: os.remove(a.args["path"]) if os.path.exists(a.args["path"]) else None,
            "create_pool": lambda a: run(create_pool_argv(a.args), what=a.description),
            "extend_data": lambda a: run(["lvextend", "-L", "%db" % a.args["size_bytes"], a.args["lv"]], what=a.description),
            "extend_metadata": lambda a: run(["lvextend", "--poolmetadatasize", "%db" % a.args["size_bytes"], a.args["lv"]], what=a.description),
            "set_zero": lambda a: run(["lvchange", "--zero", "y" if a.args["zero"] else "n", a.args["lv"]], what=a.description),
            "set_discards": lambda a: run(["lvchange", "--discards", a.args["discards"], a.args["lv"]], what=a.description),
            "attach_profile": lambda a: run(["lvchange", "--metadataprofile", a.args["profile"], a.args["lv"]], what=a.description),
            "monitor": lambda a: run(["lvchange", "--monitor", "y", a.args["lv"]], what=a.description),
            "remove_pool": lambda a: run(["lvremove", "--yes", a.args["lv"]], what=a.description),
        }

    def _write_profile(self, action):
        write_atomic(action.args["path"], action.args["content"], mode=0o644, module=self.runner.module)


def create_pool_argv(args):
    """The one ``lvcreate --type thin-pool`` command that creates the pool (data, metadata, chunk, zeroing, discards, profile, monitoring)."""
    argv = ["lvcreate", "--type", "thin-pool", "--name", args["name"]]
    if args.get("extents"):
        argv += ["--extents", args["extents"]]
    else:
        argv += ["--size", "%db" % args["size_bytes"]]
    if args.get("metadata_size"):
        argv += ["--poolmetadatasize", "%db" % args["metadata_size"]]
    argv += ["--chunksize", "%dk" % (args["chunk_size"] // 1024), "--zero", "y" if args["zero"] else "n"]
    if args.get("discards"):
        argv += ["--discards", args["discards"]]
    argv += ["--metadataprofile", args["profile"], "--monitor", "y", "--yes", args["vg"]]
    return argv
