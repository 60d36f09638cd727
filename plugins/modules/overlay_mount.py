#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: cow.storage contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

__metaclass__ = type  # pylint: disable=invalid-name

DOCUMENTATION = r"""
module: overlay_mount
short_description: Manage an overlayfs mount and its fstab entry
version_added: 1.0.0
description:
  - Mounts, unmounts and persists an overlayfs mount made of lower layers, an optional upper layer
    and its work directory.
  - The live mount (C(/proc/self/mountinfo)) and the fstab entry are parsed and compared with the
    request field by field (lower order, upper, work, requested options), never as raw strings.
  - Everything is validated before anything changes, following the kernel's overlayfs documentation.
    Lower directories must exist; O(upper) and O(work) must be on the same filesystem, which must
    not be overlayfs; O(work) must be empty or hold only the kernel's own leftovers (an empty
    C(work/work) and an C(index) directory); layer paths containing C(,) are refused and C(:) is
    escaped; a read-only overlay needs at least two lower directories.
  - Layers that overlap are refused (symlinks resolved), naming the parameter, before anything changes and in check mode too, namely
    O(upper) or O(work) on or inside one of the overlay's own lower directories (the kernel mounts it, and writes through the
    overlay then change its own lower layer), a lower directory inside O(upper) or O(work) (the kernel refuses it, but only at
    mount time), and a mount point O(path) on or inside O(upper) or O(work) (it would hide them). A mount point on or inside a
    lower directory is allowed; the kernel resolves the layers before the mount covers them.
  - A change of layers or options on a live mount unmounts and mounts again. A busy mount point makes
    the module fail without changing anything; it never unmounts lazily.
  - Persisted entries carry C(x-systemd.requires-mounts-for=) for every layer, so systemd mounts the
    overlay after the filesystems holding its layers.
author:
  - cow.storage developers (@cow-storage)
requirements:
  - util-linux C(mount) and C(umount)
  - a kernel with overlayfs
extends_documentation_fragment:
  - cow.storage.attributes
  - cow.storage.attributes.FULL
  - cow.storage.attributes.HOST_LOCK
options:
  path:
    description:
      - The mount point.
    type: path
    required: true
  lower:
    description:
      - Lower directories, top layer first, as the kernel stacks them (a file in the first hides the same
        name in the others).
      - Required when O(state) is V(mounted) or V(present). Never created by the module.
    type: list
    elements: path
  upper:
    description:
      - The upper (writable) directory. Omit together with O(work) for a read-only overlay.
    type: path
  work:
    description:
      - The work directory; must be on the same filesystem as O(upper) and empty.
    type: path
  options:
    description:
      - Extra overlay and mount options, for example V(index=on), V(metacopy=on), V(redirect_dir=on),
        V(xino=auto), V(volatile), V(userxattr), V(noatime), V(ro), V(nodev).
      - fstab-only options (V(nofail), V(noauto), V(_netdev), V(x-*), V(comment=*)) are written to fstab
        and not passed to the kernel.
      - Only these options are compared with what the kernel reports; options the kernel adds on its own
        (V(rw), V(relatime), V(uuid=on), default values) never cause a change. C(xino), C(uuid), C(verity)
        and C(fsync) are compared only when the kernel reports them, as the kernel may choose them itself.
      - C(lowerdir), C(upperdir) and C(workdir) are refused here; use O(lower), O(upper) and O(work).
    type: list
    elements: str
    default: []
  state:
    description:
      - V(mounted) mounts the overlay and persists it in O(fstab).
      - V(present) only persists it in O(fstab).
      - V(unmounted) unmounts it and keeps the fstab entry as it is.
      - V(absent) unmounts it and removes its fstab entry. Directories are never removed.
    type: str
    choices: [mounted, present, unmounted, absent]
    default: mounted
  fstab:
    description:
      - The fstab file. It is written atomically and fsynced (a symlinked fstab is written through to its target); every other
        line is kept byte for byte.
    type: path
    default: /etc/fstab
  backup:
    description: Keep a copy of the previous O(fstab) next to it (C(fstab.<pid>.<date>~)) when it changes, as M(ansible.builtin.lineinfile) does.
    type: bool
    default: false
    version_added: 1.0.0
  create_dirs:
    description:
      - Create a missing O(upper), O(work) and mount point O(path) (mode 0755). Lower directories are never created.
    type: bool
    default: true
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
  idempotent:
    support: full
notes:
  - In check mode the returned RV(mount) is the predicted state; the options then are the requested ones.
seealso:
  - name: Overlay filesystem (kernel documentation)
    description: Layers, work directory, options and their defaults.
    link: https://docs.kernel.org/filesystems/overlayfs.html
  - module: ansible.posix.mount
"""

EXAMPLES = r"""
- name: Writable overlay with two lower layers, persisted
  cow.storage.overlay_mount:
    path: /srv/merged
    lower:
      - /srv/a/layers/top
      - /srv/a/layers/base
    upper: /srv/a/upper
    work: /srv/a/work
    options: [index=on, noatime]

- name: Read-only overlay of two lower layers
  cow.storage.overlay_mount:
    path: /srv/ro
    lower: [/srv/a/layers/top, /srv/a/layers/base]

- name: Persist only; mount at next boot
  cow.storage.overlay_mount:
    path: /srv/later
    lower: [/srv/a/layers/top, /srv/a/layers/base]
    state: present

- name: Unmount and keep the fstab entry
  cow.storage.overlay_mount:
    path: /srv/merged
    state: unmounted

- name: Unmount and forget
  cow.storage.overlay_mount:
    path: /srv/merged
    state: absent
"""

RETURN = r"""
backup_file:
  description: The copy of the previous O(fstab) (O(backup=true)).
  returned: when a backup was made
  type: str
  sample: /etc/fstab.2345.2026-12-02@12:00:00~
mount:
  description: The overlay after the run (predicted in check mode).
  returned: always
  type: dict
  contains:
    path:
      description: The mount point.
      type: str
      sample: /srv/merged
    lower:
      description: Lower directories, top first (from the live mount, else from fstab).
      type: list
      elements: str
      sample: [/srv/a/layers/top, /srv/a/layers/base]
    upper:
      description: Upper directory, null for a read-only overlay.
      type: str
      sample: /srv/a/upper
    work:
      description: Work directory, null for a read-only overlay.
      type: str
      sample: /srv/a/work
    options:
      description: Mount and overlay options as the kernel reports them (fstab options when not mounted); layers left out.
      type: list
      elements: str
      sample: [rw, noatime, index=on, uuid=on]
    mounted:
      description: Whether the overlay is mounted.
      type: bool
      sample: true
    in_fstab:
      description: Whether fstab has an entry for the mount point.
      type: bool
      sample: true
actions:
  description: The actions taken, or planned in check mode, in order.
  returned: always
  type: list
  elements: dict
  contains:
    action:
      description: Kind of action (V(unmount), V(mkdir), V(mount), V(fstab)).
      type: str
      sample: mount
    description:
      description: What the action does.
      type: str
      sample: mount overlay at /srv/merged (lower /srv/a/l1:/srv/a/l2, upper /srv/a/upper)
  sample: [{action: mount, description: mount overlay at /srv/merged (lower /srv/a/l1:/srv/a/l2, upper /srv/a/upper)}]
errors:
  description: Every problem found with the parameters and the host, when more than one refuses the run (the first is the message).
  returned: failure
  type: list
  elements: str
  sample: ["lowerdir: /srv/missing does not exist", "upperdir: /srv/upper is not empty"]
"""

import os

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.cow.storage.plugins.module_utils._errors import Refusal
from ansible_collections.cow.storage.plugins.module_utils._files import read_text, write_atomic
from ansible_collections.cow.storage.plugins.module_utils._mountinfo import MOUNTINFO, mount_argv, update_fstab
from ansible_collections.cow.storage.plugins.module_utils._overlay import (
    MOUNT_FLAGS,
    kernel_defaults,
    option_satisfied,
    overlay_option_string,
    reported_options,
)
from ansible_collections.cow.storage.plugins.module_utils._overlay_mount import (
    current_state,
    describe,
    fstab_keys,
    plan,
    predict,
    probe_path,
    validate,
)
from ansible_collections.cow.storage.plugins.module_utils._runner import Converge

ARGUMENT_SPEC = dict(
    path=dict(type="path", required=True),
    lower=dict(type="list", elements="path"),
    upper=dict(type="path"),
    work=dict(type="path"),
    options=dict(type="list", elements="str", default=[]),
    state=dict(type="str", default="mounted", choices=["mounted", "present", "unmounted", "absent"]),
    fstab=dict(type="path", default="/etc/fstab"),
    backup=dict(type="bool", default=False),
    create_dirs=dict(type="bool", default=True),
)


def normalise(params):
    out = dict(params)
    out["path"] = os.path.normpath(params["path"])
    out["mount_point"] = os.path.realpath(out["path"])
    out["lower"] = [os.path.normpath(p) for p in params["lower"] or []]
    for name in ("upper", "work"):
        out[name] = os.path.normpath(params[name]) if params[name] else None
    out["options"] = []
    for opt in params["options"] or []:
        opt = opt.strip()
        if opt and opt not in out["options"]:
            out["options"].append(opt)
    return out


def observe(module, params):
    mountinfo = read_text(MOUNTINFO, missing_ok=False)
    try:
        fstab = read_text(params["fstab"], missing_ok=True)
    except (IOError, OSError) as exc:
        module.fail_json(msg="fstab: cannot read %s: %s" % (params["fstab"], exc))
    return current_state(mountinfo, fstab, params, kernel_defaults())


def write_fstab(module, params, line, saved):
    """Replace or remove the entry for ``path``, writing the file atomically and durably (fsync)."""
    path = params["fstab"]
    old = read_text(path, missing_ok=True)
    new = update_fstab(old, fstab_keys(params), line)
    if new != old:
        backup = write_atomic(path, new, mode=0o644, backup=params["backup"], module=module)
        if backup:
            saved["backup_file"] = backup


def unmount(module, runner, params, action):
    rc, out, err = runner.run(["umount", action.args["path"]], check_rc=False)
    if rc == 0:
        return
    if "busy" in (err or out).lower():
        reason = action.args["reason"]
        if reason in ("unmounted", "absent"):
            msg = "path: %s is busy; cannot unmount it for state=%s (no lazy unmount is done)" % (params["path"], reason)
        else:
            msg = ("%s: changing %s of the overlay at %s needs an unmount, but %s is busy; "
                   "nothing was changed (no lazy unmount is done)" % (reason.split(",")[0], reason.replace(",", ", "), params["path"], params["path"]))
    else:
        msg = "path: unmounting %s failed (rc=%d): %s" % (params["path"], rc, (err or out).strip())
    module.fail_json(msg=msg, cmd=["umount", action.args["path"]], rc=rc, stdout=out, stderr=err)


def mount(module, runner, params, action, previous):
    """Mount the overlay; if that fails after this run unmounted ``previous``, mount it back."""
    argv = mount_argv("overlay", "overlay", action.args["path"], action.args["options"])
    rc, out, err = runner.run(argv, check_rc=False)
    if rc == 0:
        return
    msg = "mounting the overlay at %s failed (rc=%d): %s" % (params["path"], rc, (err or out).strip())
    if previous is not None:
        old = {"lower": previous["lower"], "upper": previous["upper"], "work": previous["work"],
               "options": [o for o in reported_options(previous) if o in MOUNT_FLAGS and o != "rw"]}
        back = runner.run(mount_argv("overlay", "overlay", action.args["path"], overlay_option_string(old)), check_rc=False)
        msg += "; the previous overlay was %s" % ("mounted back" if back[0] == 0 else "NOT mounted back: %s" % (back[2] or back[1]).strip())
    module.fail_json(msg=msg, cmd=argv, rc=rc, stdout=out, stderr=err)


class OverlayConverge(Converge):
    lock = "overlay_mount"
    diff_after = "predicted"  # the same diff in check mode and in the run; the result's mount is what the kernel shows

    def __init__(self, module):
        super().__init__(module)
        self.params = normalise(module.params)
        self.saved = {}

    def observe(self):
        return observe(self.module, self.params)

    def plan(self, current):
        params = self.params
        paths = list(params["lower"]) + [p for p in (params["upper"], params["work"], params["path"]) if p]
        facts = dict((p, probe_path(p, current["mounts"], entries=p == params["work"])) for p in paths)
        current["missing"] = [p for p in paths if not facts[p]["exists"]]
        errors = validate(params, current, facts)
        if errors:
            raise Refusal(errors[0], errors=errors)
        return plan(current, params)

    def describe(self, current):
        return describe(current["mount"], current["fstab_entries"], self.params["path"])

    def predict(self, current, before, actions):
        return describe(*predict(current, self.params, actions), path=self.params["path"])

    def handlers(self, current):
        module, runner, params = self.module, self.runner, self.params
        return {
            "unmount": lambda a: unmount(module, runner, params, a),
            "mkdir": lambda a: os.makedirs(a.args["path"], 0o755),
            "mount": lambda a: mount(module, runner, params, a, current["mount"]),
            "fstab": lambda a: write_fstab(module, params, a.args["line"], self.saved),
        }

    def result(self, current, final, actions, after):
        params = self.params
        if actions and not self.module.check_mode and params["state"] == "mounted" and final["mount"] is not None:
            unmet = [o for o in params["options"] if not option_satisfied(o, final["mount"], final["defaults"])]
            if unmet:
                self.module.warn("the kernel did not apply option(s) %s at %s (see dmesg); the next run will try again"
                                 % (", ".join(unmet), params["path"]))
        applied = actions and not self.module.check_mode
        return dict(mount=self.describe(final) if applied else after, **self.saved)


def main():
    module = AnsibleModule(
        argument_spec=ARGUMENT_SPEC,
        required_if=[("state", "mounted", ["lower"]), ("state", "present", ["lower"])],
        required_together=[("upper", "work")],
        supports_check_mode=True,
    )
    OverlayConverge(module).run()


if __name__ == "__main__":
    main()
