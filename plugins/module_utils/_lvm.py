# -*- coding: utf-8 -*-
# Copyright: cow.storage contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""LVM for cow.storage: pure parsers of the LVM tools' reports, the names LVM
gives, and the observer/handlers that run the LVM tools through the one Runner.
What a thin pool request means (the planner) is in :mod:`._thinpool`.

Everything above :class:`ThinPoolOps` is a pure function of text or of plain
dicts. ``pvs``/``vgs``/``wipefs``/``lvs``/``dmsetup`` output in ``tests/unit/fixtures/lvm``
was captured from Debian 12 (lvm2 2.03.16, util-linux 2.38, kernel 6.1): pvs/vgs/wipefs
on loop devices, lvs and dmsetup on a VM lab host with dm-thin (molecule/thinpool).
The one fixture whose name says ``handwritten`` (a GPT wipefs report) follows wipefs(8).
"""

from __future__ import annotations

__metaclass__ = type  # pylint: disable=invalid-name

import json
import os
import re

from ansible_collections.cow.storage.plugins.module_utils._files import read_text, write_atomic
from ansible_collections.cow.storage.plugins.module_utils._blockdev import probe, wipe_argv
from ansible_collections.cow.storage.plugins.module_utils._mountinfo import read_mounts
from ansible_collections.cow.storage.plugins.module_utils._dmsetup import parse_dmsetup, parse_dmsetup_targets

PROFILE_DIR = "/etc/lvm/profile"
PROC_MISC = "/proc/misc"
MODULES_DIR = "/lib/modules"

PV_FIELDS = "pv_name,vg_name,pv_size,pv_free,pv_uuid"
VG_FIELDS = "vg_name,vg_size,vg_free,vg_extent_size,vg_extent_count,vg_free_count,pv_count,lv_count"
LV_FIELDS = ("vg_name,lv_name,lv_attr,segtype,lv_size,lv_metadata_size,chunk_size,zero,discards,seg_monitor,"
             "lv_profile,pool_lv,origin,data_percent,metadata_percent,lv_dm_path")
REPORT_OPTIONS = ["--reportformat", "json", "--units", "b", "--nosuffix"]


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

    def device_mapper_possible(self):
        """Whether this kernel has device-mapper or can load it (/proc/misc, or an available dm-mod), running nothing:
        where it cannot, the LVM tools would not help, and the planner's refusal of the kernel is the answer."""
        try:
            if "device-mapper" in parse_proc_misc(read_text(self.proc_misc)):
                return True
        except (IOError, OSError):
            pass
        return module_listed("dm-mod", *self._modules(os.uname()[2]))

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
        """A device for the VG: a PV already is LVM's (its signatures and holders are LVM's own); any other device is
        probed as every cow.storage module probes one (_blockdev.probe: mounted, held, signatures)."""
        real = os.path.realpath(path)
        if real in pvs:
            dev = {"path": path, "exists": True, "real": real, "is_block": True, "signatures": [], "mounted": [], "holders": []}
        else:
            dev = probe(self.runner, path, read_mounts())
        if dev.get("is_block"):
            dev["size"] = _block_size(real)
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
            "wipe_signatures": lambda a: run(wipe_argv(a.args["device"]), what=a.description),
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
