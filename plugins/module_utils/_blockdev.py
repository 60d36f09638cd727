# -*- coding: utf-8 -*-
# Copyright: cow.storage contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Block devices a module is asked to take (a pool's, a data root's): what they carry and who uses them.

One probe for every module that makes something on a device (``zfs_pool``, ``docker_storage_backend``'s
``mount.mkfs``): whether it exists and is a block device, its whole disk, where it (or a partition of it) is
mounted, which device-mapper/md devices hold it (sysfs ``holders``), and its signatures (``wipefs --no-act``,
which reads without changing anything). The refusals built on it are the same for every module: a device in
use is never taken, even with ``wipe_signatures``; a device with signatures only with ``wipe_signatures``.

``parse_wipefs`` and the refusal helpers are pure; the ``wipefs`` fixtures in ``tests/unit/fixtures/lvm`` were
captured on Debian 12 (util-linux 2.38).
"""

from __future__ import annotations

__metaclass__ = type  # pylint: disable=invalid-name

import json
import os
import stat

from ansible_collections.cow.storage.plugins.module_utils._errors import Refusal


def parse_wipefs(text):
    """``wipefs --no-act --json DEV`` -> list of ``{"type", "offset", "uuid", "label"}`` (empty when clean)."""
    text = text.strip()
    if not text:
        return []
    return [{"type": sig.get("type"), "offset": sig.get("offset"), "uuid": sig.get("uuid"), "label": sig.get("label")}
            for sig in json.loads(text).get("signatures", [])]


def signatures_text(signatures):
    return ", ".join("%s at %s" % (sig["type"], sig["offset"]) for sig in signatures)


def wipe_argv(device):
    """The one way cow.storage erases a device's signatures (only ever after the user's explicit opt-in)."""
    return ["wipefs", "--all", device]


def refuse_unusable(dev, param, purpose):
    """Refusals for a device that is missing, not a block device, mounted or held (``purpose``: what would be made)."""
    path = dev.get("path")
    if not dev.get("exists"):
        raise Refusal("%s: %s does not exist" % (param, path))
    if not dev.get("is_block"):
        raise Refusal("%s: %s is not a block device" % (param, path))
    if dev.get("mounted"):
        raise Refusal("%s: %s (%s) is mounted on %s; %s is never made on a device in use, even with wipe_signatures; "
                      "nothing was changed" % (param, path, dev["real"], ", ".join(dev["mounted"]), purpose))
    if dev.get("holders"):
        raise Refusal("%s: %s (%s) is in use by %s; %s is never made on a device in use, even with wipe_signatures; "
                      "nothing was changed" % (param, path, dev["real"], ", ".join(dev["holders"]), purpose))


def refuse_signatures(dev, wipe, wipe_param, purpose):
    """A device with signatures is taken only with ``wipe`` (named ``wipe_param``); returns the signatures' text
    ("" when the device is blank)."""
    signatures = dev.get("signatures") or []
    if not signatures:
        return ""
    found = signatures_text(signatures)
    if not wipe:
        raise Refusal("%s: %s (%s) carries signatures (%s); set %s: true to erase them and make %s on it; "
                      "nothing was changed" % (wipe_param, dev["path"], dev["real"], found, wipe_param, purpose))
    return found


# ---------------------------------------------------------------- the probe (not pure)

def whole_disk(real):
    """/dev/vdb1 -> /dev/vdb (a partition's parent, from sysfs); a whole disk stays itself."""
    name = os.path.basename(real)
    sys_path = os.path.realpath("/sys/class/block/%s" % name)
    if os.path.exists(os.path.join(sys_path, "partition")):
        return "/dev/" + os.path.basename(os.path.dirname(sys_path))
    return real


def partitions(real):
    name = os.path.basename(real)
    base = "/sys/class/block/%s" % name
    try:
        return ["/dev/" + entry for entry in sorted(os.listdir(base)) if entry.startswith(name)]
    except OSError:
        return []


def holders(real):
    found = []
    for dev in [real] + partitions(real):
        try:
            found += ["%s holds %s" % (h, os.path.basename(dev))
                      for h in sorted(os.listdir("/sys/class/block/%s/holders" % os.path.basename(dev)))]
        except OSError:
            pass
    return found


def probe(runner, path, mounts, check_rc=True):
    """What ``path`` is: ``{"path", "exists", "real", "is_block", "disk", "mounted", "holders", "signatures"}``;
    ``mounts`` is the parsed mount table (``_mountinfo.parse_mountinfo``). Without ``check_rc`` a failed wipefs is
    returned as ``error`` instead of failing the module (a transaction's step rolls back instead)."""
    real = os.path.realpath(path)
    dev = {"path": path, "exists": os.path.exists(path), "real": real, "is_block": False, "signatures": [],
           "mounted": [], "holders": []}
    if not dev["exists"]:
        return dev
    dev["is_block"] = stat.S_ISBLK(os.stat(path).st_mode)
    if not dev["is_block"]:
        return dev
    dev["disk"] = whole_disk(real)
    parts = [real] + partitions(real)
    dev["mounted"] = sorted(set(m["mount_point"] for m in mounts if os.path.realpath(m["source"]) in parts))
    dev["holders"] = holders(real)
    rc, out, err = runner.run(["wipefs", "--no-act", "--json", real], check_rc=check_rc, what="wipefs --no-act %s" % path)
    if rc != 0:
        dev["error"] = "wipefs --no-act %s failed (rc=%d): %s" % (path, rc, (err or out).strip())
        return dev
    dev["signatures"] = parse_wipefs(out)
    return dev
