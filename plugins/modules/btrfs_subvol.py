#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: cow.storage contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

__metaclass__ = type  # pylint: disable=invalid-name

DOCUMENTATION = r"""
module: btrfs_subvol
short_description: Manage btrfs subvolumes, snapshots, read-only flags, quota groups and the default subvolume
version_added: 1.0.0
description:
  - Creates and deletes subvolumes and snapshots on a mounted btrfs filesystem, addressed by their path.
  - Sets the C(ro) property on new and existing subvolumes, so read-only snapshots can be taken and kept read-only.
  - Enables quotas on the filesystem when a O(quota) is requested and sets the quota group limit of the subvolume.
  - Makes a subvolume the default subvolume of the filesystem (the one a plain C(mount) shows).
  - Observes, plans, then applies; in check mode the plan is the result, listed in RV(actions).
  - Refuses, with an error naming the parameter and without changing the filesystem, a O(path) that is not on a mounted btrfs,
    a missing parent directory, a O(snapshot_of) that is not a subvolume, deleting the top-level subvolume, a mounted or the default subvolume,
    deleting a subvolume with nested subvolumes without O(recursive), and an invalid O(quota.limit).
author:
  - cow.storage developers (@cow-storage)
requirements:
  - btrfs-progs (the C(btrfs) command) 5.7 or later
  - Linux with C(/proc/self/mountinfo)
extends_documentation_fragment:
  - cow.storage.attributes
  - cow.storage.attributes.FULL
  - cow.storage.attributes.HOST_LOCK
options:
  path:
    description:
      - Path of the subvolume on a mounted btrfs filesystem.
      - Its parent directory must exist and be on btrfs; this module does not create parent directories.
      - With O(state=absent) a missing parent directory means there is nothing to delete.
    type: path
    required: true
  state:
    description:
      - V(present) creates the subvolume (or snapshot) if needed and converges its properties.
      - V(absent) deletes it. The top-level subvolume (id 5), a mounted subvolume and the default subvolume are never deleted.
    type: str
    choices: [present, absent]
    default: present
  snapshot_of:
    description:
      - Create O(path) as a snapshot of this subvolume, which must be a subvolume on the same filesystem.
      - Only used with O(state=present).
    type: path
  snapshot_conflict:
    description:
      - What to do when O(snapshot_of) is set and a subvolume already exists at O(path) that is not a snapshot of O(snapshot_of).
      - V(keep) leaves it in place (its properties are still converged).
      - V(replace) deletes it and takes the snapshot; needs O(recursive=true) if it has nested subvolumes.
      - V(fail) fails.
      - A subvolume at O(path) that already is a snapshot of O(snapshot_of) is always kept, so the module stays idempotent.
        To refresh a snapshot, delete it first with O(state=absent).
    type: str
    choices: [keep, replace, fail]
    default: keep
  readonly:
    description:
      - The C(ro) property of the subvolume, applied to new and existing subvolumes. A new snapshot is taken read-only directly (C(snapshot -r)).
      - Not set means the property is left as it is (new subvolumes are writable).
    type: bool
  recursive:
    description:
      - With O(state=absent), or O(snapshot_conflict=replace), also delete the nested subvolumes, deepest first.
      - Without it a subvolume that has nested subvolumes is refused.
    type: bool
    default: false
  default:
    description:
      - V(true) makes the subvolume the default subvolume of the filesystem (what a mount without C(subvol=) shows).
      - V(false) makes the top-level subvolume (id 5) the default again if this subvolume is the default.
      - Not set leaves the default alone.
    type: bool
  quota:
    description:
      - Quota group settings of the subvolume. Setting this enables quotas on the filesystem if they are not enabled yet
        (then waits for the quota rescan).
    type: dict
    suboptions:
      limit:
        description:
          - Size limit like V(512M), V(2G), V(1.5GiB) or a number of bytes; all units are powers of 1024, as in btrfs-progs.
          - V(none) removes the limit. Not set leaves the limit alone (quotas are still enabled).
          - Compared, in bytes, with the current C(max_rfer) of the quota group, or C(max_excl) with O(quota.exclusive=true).
        type: str
      exclusive:
        description:
          - Limit the exclusive size (data not shared with snapshots) instead of the referenced size.
          - The other limit is left as it is.
        type: bool
        default: false
notes:
  - Only O(path) and O(state) are used with O(state=absent); O(snapshot_of), O(readonly), O(default) and O(quota) are refused with it.
  - Quotas have a cost on filesystems with many snapshots; they are only enabled when O(quota) is set.
  - Deleted subvolumes are removed from the namespace at once; their space is freed by the kernel in the background.
seealso:
  - module: community.general.btrfs_subvolume
  - module: ansible.posix.mount
"""

EXAMPLES = r"""
- name: Make the container data root a dedicated subvolume (so root snapshots do not capture it)
  cow.storage.btrfs_subvol:
    path: /mnt/btrfs/@docker

- name: Mount it at /var/lib/docker by subvolume name
  ansible.posix.mount:
    src: /dev/vdb
    path: /var/lib/docker
    fstype: btrfs
    opts: subvol=@docker,noatime
    state: mounted

- name: Read-only snapshot of the data subvolume
  cow.storage.btrfs_subvol:
    path: /mnt/btrfs/@docker-before-upgrade
    snapshot_of: /mnt/btrfs/@docker
    readonly: true

- name: Replace whatever is at the path by a writable snapshot
  cow.storage.btrfs_subvol:
    path: /mnt/btrfs/@scratch
    snapshot_of: /mnt/btrfs/@template
    snapshot_conflict: replace

- name: Limit a subvolume to 20 GiB (enables quotas if needed)
  cow.storage.btrfs_subvol:
    path: /mnt/btrfs/@docker
    quota:
      limit: 20G

- name: Make a subvolume the default one
  cow.storage.btrfs_subvol:
    path: /mnt/btrfs/@root
    default: true

- name: Delete a subvolume and the subvolumes nested in it
  cow.storage.btrfs_subvol:
    path: /mnt/btrfs/@old
    state: absent
    recursive: true
"""

RETURN = r"""
subvolume:
  description:
    - The subvolume after the run; empty when it does not exist.
    - In check mode, the subvolume as it was observed (nothing was changed); see RV(actions) and the diff for the prediction.
  returned: always
  type: dict
  contains:
    id:
      description: Subvolume id.
      type: int
      sample: 256
    uuid:
      description: Subvolume UUID.
      type: str
      sample: f444f5b1-186e-f448-b265-be237f18c8e5
    parent_uuid:
      description: UUID of the subvolume this one is a snapshot of, or null.
      type: str
    received_uuid:
      description: Received UUID (set by C(btrfs receive)), or null.
      type: str
    path:
      description: The absolute path given.
      type: str
      sample: /mnt/btrfs/@docker
    fs_path:
      description: Path of the subvolume inside the filesystem, as btrfs reports it.
      type: str
      sample: "@docker"
    top_level:
      description: Id of the subvolume that contains it.
      type: int
      sample: 5
    generation:
      description: Generation (transaction id) of the last change.
      type: int
    readonly:
      description: Whether the C(ro) property is set.
      type: bool
    default:
      description: Whether it is the default subvolume of the filesystem.
      type: bool
    mount:
      description: Mount point of the btrfs filesystem that holds O(path).
      type: str
      sample: /mnt/btrfs
    quota_enabled:
      description: Whether quotas are enabled on the filesystem.
      type: bool
    qgroup:
      description: The level-0 quota group of the subvolume, in bytes; only when quotas are enabled.
      type: dict
      returned: when quotas are enabled
      contains:
        qgroupid:
          description: Quota group id.
          type: str
          sample: 0/256
        referenced:
          description: Referenced bytes.
          type: int
        exclusive:
          description: Exclusive bytes.
          type: int
        limit_referenced:
          description: Referenced size limit in bytes, or null.
          type: int
        limit_exclusive:
          description: Exclusive size limit in bytes, or null.
          type: int
actions:
  description: The actions taken, or in check mode planned, in order.
  returned: always
  type: list
  elements: dict
  contains:
    action:
      description: Machine-readable kind.
      type: str
      sample: create_subvolume
    description:
      description: What the action does.
      type: str
      sample: create subvolume /mnt/btrfs/@docker
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.cow.storage.plugins.module_utils._runner import Converge
from ansible_collections.cow.storage.plugins.module_utils._errors import Refusal
from ansible_collections.cow.storage.plugins.module_utils._btrfs import SubvolumeOps
from ansible_collections.cow.storage.plugins.module_utils._subvolume import describe, facts, plan, predict


class SubvolumeConverge(Converge):
    lock = "btrfs_subvol"

    def __init__(self, module):
        super().__init__(module)
        self.ops = SubvolumeOps(self.runner)

    def check(self):
        if self.params["state"] == "absent":
            unused = [name for name in ("snapshot_of", "readonly", "default", "quota") if self.params[name] is not None]
            if unused:
                raise Refusal("%s: not used with state=absent; remove it" % ", ".join(unused))

    def observe(self):
        return self.ops.observe(self.params["path"], self.params["snapshot_of"])

    def plan(self, current):
        return plan(current, self.params)

    def describe(self, current):
        return describe(current, self.params["snapshot_of"])

    def predict(self, current, before, actions):
        return predict(before, actions)

    def handlers(self, current):
        return self.ops.handlers()

    def result(self, current, final, actions, after):
        return dict(subvolume=facts(final))


def main():
    module = AnsibleModule(
        argument_spec=dict(
            path=dict(type="path", required=True),
            state=dict(type="str", choices=["present", "absent"], default="present"),
            snapshot_of=dict(type="path"),
            snapshot_conflict=dict(type="str", choices=["keep", "replace", "fail"], default="keep"),
            readonly=dict(type="bool"),
            recursive=dict(type="bool", default=False),
            default=dict(type="bool"),
            quota=dict(type="dict", options=dict(
                limit=dict(type="str"),
                exclusive=dict(type="bool", default=False),
            )),
        ),
        supports_check_mode=True,
    )
    SubvolumeConverge(module).run()


if __name__ == "__main__":
    main()
