#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: cow.storage contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

__metaclass__ = type  # pylint: disable=invalid-name

DOCUMENTATION = r"""
module: zfs_pool
short_description: Make a ZFS pool on dedicated devices and the dataset a container engine's data root lives on
version_added: 1.0.0
description:
  - Creates the pool O(name) on O(devices) (a stripe with C(ashift=)O(ashift); its root dataset is not mounted) when it does
    not exist, and the dataset O(name)/O(dataset) mounted on O(mountpoint) with O(properties), which Docker's C(zfs) storage
    driver then uses as its parent dataset (the driver finds it by the data root's mount).
  - On later runs converges the dataset's O(properties) and mounts it when it is not mounted.
  - Observes, plans, then applies; in check mode the plan is the result, listed in RV(actions).
  - Refuses, with an error naming the parameter and without changing anything, a device that does not exist, is not a block
    device, is mounted, is held by another device (device-mapper, md) or belongs to an imported pool (even with
    O(wipe_signatures)); a device carrying signatures (a filesystem, a partition table, an old ZFS label) without
    O(wipe_signatures); an existing pool of that name on other devices; a mount point that is already a mount, or a
    directory that holds entries the dataset would hide; an existing dataset mounted elsewhere; and a host without the zfs
    kernel module loaded (no C(/dev/zfs)).
  - C(zpool create -f) is used only after the signatures were erased on request (O(wipe_signatures)).
author:
  - cow.storage developers (@cow-storage)
requirements:
  - OpenZFS (C(zpool), C(zfs)) with its kernel module loaded
  - C(wipefs) (util-linux)
extends_documentation_fragment:
  - cow.storage.attributes
  - cow.storage.attributes.FULL
  - cow.storage.attributes.HOST_LOCK
options:
  name:
    description: The pool's name.
    type: str
    required: true
  devices:
    description:
      - The pool's devices (absolute paths; C(/dev/disk/by-id/...) names are kept by the pool and are stable across
        boots). An existing pool is compared by whole disk; this module never adds, removes or replaces a pool's devices.
    type: list
    elements: path
    required: true
  wipe_signatures:
    description:
      - Erase the signatures found on O(devices) (C(wipefs --all)) and create the pool over them (C(zpool create -f)).
        Destructive; without it a device with signatures is refused.
    type: bool
    default: false
  ashift:
    description: The pool's C(ashift) (sector size exponent; 12 for 4 KiB sectors), set when the pool is created.
    type: int
    default: 12
  dataset:
    description: The dataset under the pool that is mounted on O(mountpoint), for example V(docker) (the dataset V(<name>/docker)).
    type: str
    default: docker
  mountpoint:
    description: Where the dataset is mounted (its C(mountpoint) property), for example the engine's data root C(/var/lib/docker).
    type: path
    required: true
  properties:
    description:
      - ZFS properties of the dataset, set when it is created and converged later, for example C(compression) V(lz4) and
        C(atime) V(off). Booleans become V(on) and V(off). Not C(mountpoint) (see O(mountpoint)).
    type: dict
    default: {}
notes:
  - Made for a pool dedicated to one engine's data root; the pool is never destroyed here.
seealso:
  - module: cow.storage.docker_storage_backend
  - module: community.general.zfs
"""

EXAMPLES = r"""
- name: A pool on a dedicated disk and the data root dataset for Docker's zfs driver
  cow.storage.zfs_pool:
    name: docker
    devices: [/dev/disk/by-id/virtio-data1]
    dataset: docker
    mountpoint: /var/lib/docker
    properties:
      compression: lz4
      atime: "off"

- name: Then Docker on it
  cow.storage.docker_storage_backend:
    driver: zfs
"""

RETURN = r"""
actions:
  description: What was done (in check mode, what would be done), in order.
  returned: always
  type: list
  elements: dict
  sample: [{"action": "create_pool", "description": "create pool docker on /dev/disk/by-id/virtio-data1 (ashift=12)"}]
pool:
  description: The pool after the run (predicted in check mode).
  returned: always
  type: dict
  contains:
    name: {description: Its name., type: str, returned: always}
    exists: {description: Whether it exists., type: bool, returned: always}
    devices: {description: Its whole disks (real paths)., type: list, elements: str, returned: always}
dataset:
  description: The data root dataset after the run (predicted in check mode).
  returned: always
  type: dict
  contains:
    name: {description: Its full name., type: str, returned: always}
    exists: {description: Whether it exists., type: bool, returned: always}
    mountpoint: {description: Its mountpoint property., type: str, returned: always}
    mounted: {description: Whether it is mounted., type: bool, returned: always}
    properties: {description: The values of the properties asked for., type: dict, returned: always}
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.cow.storage.plugins.module_utils._runner import Converge
from ansible_collections.cow.storage.plugins.module_utils._zfs import ZfsOps, describe, normalise_properties, plan, predict

ARGUMENT_SPEC = dict(
    name=dict(type="str", required=True),
    devices=dict(type="list", elements="path", required=True),
    wipe_signatures=dict(type="bool", default=False),
    ashift=dict(type="int", default=12),
    dataset=dict(type="str", default="docker"),
    mountpoint=dict(type="path", required=True),
    properties=dict(type="dict", default={}),
)


class PoolConverge(Converge):
    lock = "zfs_pool"

    def __init__(self, module):
        super().__init__(module)
        self.params = dict(module.params)
        self.params["mountpoint"] = self.params["mountpoint"].rstrip("/") or "/"
        self.ops = ZfsOps(self.runner)
        self.wanted = normalise_properties(self.params["properties"])

    def observe(self):
        return self.ops.observe(self.params, self.wanted)

    def plan(self, current):
        return plan(current, self.params)

    def describe(self, current):
        return describe(current, self.params)

    def predict(self, current, before, actions):
        return predict(before, actions, current, self.params)

    def handlers(self, current):
        return self.ops.handlers()

    def refused(self, exc, current):
        return describe(current, self.params) if current is not None else {}

    def result(self, current, final, actions, after):
        return after


def main():
    PoolConverge(AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)).run()


if __name__ == "__main__":
    main()
