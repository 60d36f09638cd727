# -*- coding: utf-8 -*-
# Copyright: cow.storage contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The storage driver registry's facts, for roles and reports (one source for every list of drivers)."""

from __future__ import annotations

DOCUMENTATION = r"""
name: driver_info
author: cow.storage developers (@cow-storage)
version_added: 1.0.0
short_description: Facts of a Docker storage driver from the collection's driver registry
description:
  - Returns what cow.storage knows of a storage driver - its containerd snapshotter, the kernel filesystem it needs,
    the backing filesystems it accepts, the programs it runs, whether it needs d_type, what the backend role makes
    of a dedicated device for it, and the Docker Engine release that removed it - from the same registry
    M(cow.storage.docker_storage_backend) plans with, so roles and reports never keep their own lists.
  - With V(all), a dict of every driver's facts by name.
options:
  _input:
    description: A driver name (C(overlay2), C(btrfs), ...) or V(all).
    type: str
    required: true
"""

EXAMPLES = r"""
- name: Refuse a dedicated device for a driver that takes none
  ansible.builtin.assert:
    that: backend_device | length == 0 or (backend_driver | cow.storage.driver_info).device

- name: The drivers that take a dedicated device
  ansible.builtin.debug:
    msg: "{{ 'all' | cow.storage.driver_info | dict2items | selectattr('value.device') | map(attribute='key') | list }}"
"""

RETURN = r"""
_value:
  description:
    - "The driver's facts: C(name), C(snapshotter), C(kernel_fs), C(backing), C(binaries), C(needs_d_type), C(device)
      (C(xfs), C(btrfs), C(zpool), C(thinpool) or null), C(device_tools) (the programs that preparing such a device
      runs), C(target) (false: never converged to), C(copy_on_write), C(size_options) (the options that need a
      project-quota mount), C(packages) (OS family to the packages giving its programs), C(role_prepares) (V(always),
      V(device) or null: the backend role prepares its storage before the module runs), C(device_plan) (V(ahead),
      V(after) or null: when the change is planned with a dedicated device) and C(removed_in)."
    - An empty dict for a name that is not a driver (such as C(auto)).
  type: dict
"""

from ansible_collections.cow.storage.plugins.module_utils._docker.drivers import DRIVERS


def driver_info(name):
    if str(name) == "all":
        return dict((key, cls.facts()) for key, cls in DRIVERS.items())
    cls = DRIVERS.get(str(name))
    return cls.facts() if cls else {}


class FilterModule:
    def filters(self):
        return {"driver_info": driver_info}
