#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: cow.storage contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

__metaclass__ = type  # pylint: disable=invalid-name

DOCUMENTATION = r"""
module: thinpool
short_description: Manage an LVM thin pool for container storage, with autoextend profile and monitoring
version_added: 1.0.0
description:
  - Creates the volume group from O(pvs) when it is missing and extends it when a listed device is new.
  - Creates the thin pool in one C(lvcreate --type thin-pool) step with the data size, metadata size, chunk size, zeroing and
    discards asked for, attaches an LVM metadata profile with the autoextend settings and turns on dmeventd monitoring
    (without monitoring a thin pool never autoextends).
  - On later runs converges the size (growing with C(lvextend); extent rounding is not a change), the metadata size, zeroing,
    discards, the profile and monitoring.
  - Returns what C(dm.thinpooldev) and containerd's devmapper snapshotter need (RV(thinpool.dm_path)) and the pool's health,
    and warns when data or metadata use has reached the autoextend threshold.
  - Observes, plans, then applies; in check mode the plan is the result, listed in RV(actions).
  - Refuses, with an error naming the parameter and without changing devices or LVM state, a device that does not exist,
    a device carrying a filesystem, partition table or foreign LVM signature without O(wipe_signatures), a size larger than the
    volume group, shrinking a pool, an existing LV of that name that is not a thin pool, and O(state=absent) while thin volumes exist
    without O(force).
  - Refuses the same way, before any device is touched (in check mode too), a kernel without device-mapper (C(/proc/misc) lists no
    C(device-mapper) and no C(dm-mod) module is available, as in a container) or without its C(thin-pool) target (not listed by
    C(dmsetup targets), and no C(dm-thin-pool) module built in or available under C(/lib/modules/<release>)). Nothing is loaded to find
    out, except that C(dmsetup targets) makes the kernel load an available C(dm-mod) that nothing loaded yet.
  - Refuses O(state=absent) (even with O(force)) and a change of O(discards) of a pool a container engine is configured to use, that is
    Docker's C(dm.thinpooldev) in O(docker_config_path) or the devmapper snapshotter's C(pool_name) in O(containerd_config_path).
    The error names the file and the key. Growing such a pool stays allowed; shrinking, a new chunk size and smaller metadata are
    refused for every pool.
author:
  - cow.storage developers (@cow-storage)
requirements:
  - lvm2 (C(pvs), C(vgs), C(lvs), C(pvcreate), C(vgcreate), C(lvcreate), C(lvchange), C(lvextend), C(lvremove)) 2.03 or later with dmeventd
  - C(dmsetup), C(wipefs) (util-linux), C(thin_check) (thin-provisioning-tools; LVM runs it to activate a pool). With O(state=present)
    the module fails first, naming them in RV(missing_tools), when C(lvcreate), C(dmsetup) or C(thin_check) is missing and the kernel
    has or can load device-mapper.
  - a kernel with device-mapper and the C(dm-thin-pool) target
extends_documentation_fragment:
  - cow.storage.attributes
  - cow.storage.attributes.FULL
  - cow.storage.attributes.HOST_LOCK
options:
  vg:
    description: Name of the volume group.
    type: str
    required: true
  name:
    description: Name of the thin pool LV.
    type: str
    required: true
  pvs:
    description:
      - Block devices of the volume group. The VG is created from them when it does not exist, and extended with any that is not in it yet.
      - Devices already in the VG but not listed are left in it. A device that belongs to another VG is always refused.
      - A device that carries any signature (filesystem, partition table, LVM label not known to this host's LVM) is refused unless
        O(wipe_signatures=true).
    type: list
    elements: path
    default: []
  size:
    description:
      - Data size of the pool. V(95%VG), V(50%FREE) or V(100%PVS) (of the VG's extents, as C(lvcreate -l)), or a size like V(10g), V(512m),
        V(1t) (units b, s, k, m, g, t, p, e, all powers of 1024; a bare number is MiB, as with C(lvcreate -L)).
      - Required to create the pool. An existing pool is grown when it is smaller by more than one extent plus the metadata spare LV
        (so extent rounding and the space LVM keeps for metadata are not changes).
      - A thin pool cannot shrink. A pool larger than O(size) is refused, unless autoextend is on (O(autoextend.threshold) below 100),
        in which case it is taken as grown by autoextend, left as it is, and a warning says so.
      - "As with lvcreate, V(%FREE) and V(%PVS) leave room for the metadata LV and its spare; V(%VG) does not."
    type: str
  metadata_size:
    description:
      - Size of the pool's metadata LV (V(2m) to V(16g)); not set lets LVM choose when creating and leaves it alone afterwards.
      - An existing pool's metadata is grown when it is smaller; metadata cannot shrink.
    type: str
  chunk_size:
    description:
      - Chunk size of the pool (a multiple of 64k, from V(64k) to V(1g)); a bare number is KiB. Cannot change after creation (refused).
    type: str
    default: 512k
  zero:
    description: Zero newly provisioned blocks. Off is what container engines want (faster, they write whole blocks).
    type: bool
    default: false
  discards:
    description: How discards are handled by the pool. Not set leaves LVM's default (V(passdown)) or the current setting.
    type: str
    choices: [ignore, nopassdown, passdown]
  autoextend:
    description:
      - Written to the LVM profile C(/etc/lvm/profile/<vg>-<name>.profile) and attached to the pool with C(--metadataprofile).
    type: dict
    default: {}
    suboptions:
      threshold:
        description:
          - C(thin_pool_autoextend_threshold) (50 to 100); V(100) turns autoextend off. Also the use, in percent, above which the module warns.
        type: int
        default: 80
      percent:
        description: C(thin_pool_autoextend_percent), how much the pool grows each time, in percent of its size.
        type: int
        default: 20
  wipe_signatures:
    description:
      - Erase the signatures (C(wipefs --all)) of a device in O(pvs) that carries any, then initialise it as a physical volume.
      - Without it such a device is refused and left untouched.
    type: bool
    default: false
  force:
    description: With O(state=absent), also remove the thin volumes in the pool. Without it a pool holding thin volumes is refused.
    type: bool
    default: false
  state:
    description:
      - V(present) creates or converges the pool (and the VG).
      - V(absent) removes the pool and its profile file; the volume group and its physical volumes are left.
        Refused, even with O(force), while a container engine is configured to use the pool.
    type: str
    choices: [present, absent]
    default: present
  docker_config_path:
    description:
      - Docker's C(daemon.json), read (never written) to find the pool Docker uses (C(dm.thinpooldev) in C(storage-opts)).
      - A missing file names no pool; a file that is not valid JSON makes removing or reshaping any pool a refusal, as it cannot
        be told whether Docker uses it.
    type: path
    version_added: 1.0.0
    default: /etc/docker/daemon.json
  containerd_config_path:
    description:
      - containerd's C(config.toml), read (never written) to find the pool of its devmapper snapshotter (C(pool_name)).
      - Missing or not valid TOML, as for O(docker_config_path).
    type: path
    version_added: 1.0.0
    default: /etc/containerd/config.toml
notes:
  - Profiles are written to C(/etc/lvm/profile), LVM's default C(config/profile_dir).
  - Docker's C(dm.thinpooldev) (and containerd's devmapper C(pool_name)) must name a device whose device-mapper target is C(thin-pool).
    For a pool used only by Docker that is RV(thinpool.dm_path) (RV(thinpool.dm_target) is V(thin-pool)); Docker creates its thin devices
    with device-mapper messages, not LVM, so the path stays a C(thin-pool).
  - Once LVM itself activates thin volumes in the pool (C(lvcreate -T), C(lvcreate -s)), LVM turns RV(thinpool.dm_path) into a C(linear)
    device over C(/dev/mapper/<vg>-<name>-tpool), which holds the C(thin-pool) target; Docker refuses the C(linear) path. With lvm2 2.03.16
    the pool still showed as open after its thin volumes were removed (until deactivated and activated again).
  - RV(thinpool.dm_target) and RV(thinpool.dm_pool_path) tell which device holds the C(thin-pool) target; do not share a Docker pool
    with LVM thin volumes.
  - Autoextend needs dmeventd (Debian's C(dmeventd) package, started by C(dm-event.socket)). The pool is created with C(--monitor y) and
    re-monitored when C(lvs) does not report it C(monitored); the module warns when, after a real run, the pool is still not monitored.
  - With O(state=absent) only O(vg), O(name), O(force), O(docker_config_path) and O(containerd_config_path) are used.
seealso:
  - module: community.general.lvg
  - module: community.general.lvol
"""

EXAMPLES = r"""
- name: Docker direct-lvm thin pool on a dedicated disk
  cow.storage.thinpool:
    vg: docker
    name: thinpool
    pvs: [/dev/disk/by-id/nvme-data1]
    size: 95%VG
    metadata_size: 1g
    autoextend:
      threshold: 80
      percent: 20
  register: pool

- name: Point Docker at it
  ansible.builtin.debug:
    msg: "dm.thinpooldev={{ pool.thinpool.dm_path }}"

- name: Reuse a disk that had a filesystem on it (erases it)
  cow.storage.thinpool:
    vg: ctr
    name: pool
    pvs: [/dev/vdc]
    size: 20g
    wipe_signatures: true

- name: Remove the pool and every thin volume in it
  cow.storage.thinpool:
    vg: docker
    name: thinpool
    state: absent
    force: true
"""

RETURN = r"""
thinpool:
  description:
    - The pool after the run; empty when it does not exist.
    - In check mode, the pool as it was observed (nothing was changed); see RV(actions) and the diff for the prediction.
  returned: always
  type: dict
  contains:
    vg:
      description: Volume group.
      type: str
      sample: docker
    name:
      description: Pool LV name.
      type: str
      sample: thinpool
    dm_path:
      description: Device-mapper path of the pool, what C(dm.thinpooldev) needs.
      type: str
      sample: /dev/mapper/docker-thinpool
    dm_target:
      description: Device-mapper target type of RV(thinpool.dm_path) (V(thin-pool), or V(linear) once LVM thin volumes use the pool); null if inactive.
      type: str
      sample: thin-pool
    dm_pool_path:
      description:
        - The device that holds the C(thin-pool) target, read from C(dmsetup table) - RV(thinpool.dm_path) while nothing but device-mapper
          messages created thin devices, C(/dev/mapper/<vg>-<name>-tpool) once LVM thin volumes are active; null if inactive.
      type: str
      sample: /dev/mapper/docker-thinpool
    size:
      description: Data size in bytes.
      type: int
      sample: 4076863488
    metadata_size:
      description: Metadata size in bytes.
      type: int
      sample: 67108864
    chunk_size:
      description: Chunk size in bytes.
      type: int
      sample: 524288
    zero:
      description: Whether new blocks are zeroed.
      type: bool
    discards:
      description: Discards mode.
      type: str
      sample: passdown
    data_percent:
      description: Data use in percent (null when inactive).
      type: float
      sample: 1.25
    metadata_percent:
      description: Metadata use in percent (null when inactive).
      type: float
      sample: 10.5
    monitored:
      description: Whether dmeventd monitors the pool (C(seg_monitor) is C(monitored)); autoextend needs it.
      type: bool
    seg_monitor:
      description: C(lvs -o seg_monitor) as reported.
      type: str
      sample: monitored
    profile:
      description: Metadata profile attached to the pool.
      type: str
      sample: docker-thinpool
    profile_path:
      description: Path of the profile file.
      type: str
      sample: /etc/lvm/profile/docker-thinpool.profile
    autoextend:
      description: C(threshold) and C(percent) read back from the profile file.
      type: dict
      sample: {threshold: 80, percent: 20}
    thin_volumes:
      description: Names of the thin volumes in the pool, sorted.
      type: list
      elements: str
    pool_status:
      description: Parsed C(dmsetup status) of the thin-pool target (blocks used/total, C(mode), C(needs_check)); null if inactive.
      type: dict
    vg_free:
      description: Free bytes in the volume group (room for autoextend).
      type: int
    used_by:
      description: The container engines configured to use the pool, each with the file (C(path)) and C(key) that names it.
      type: list
      elements: dict
      sample: [{engine: Docker, path: /etc/docker/daemon.json, key: storage-opts dm.thinpooldev}]
missing_tools:
  description:
    - With O(state=present), the programs a thin pool needs that the host lacks (C(lvcreate), C(dmsetup), C(thin_check)); the
      module then fails before it reads or changes anything, so a role can install them and call again without a probe of its own.
    - Not on a kernel without device-mapper (as in a container), where the tools would not help; that kernel is refused instead.
  returned: failure, when programs are missing
  type: list
  elements: str
  sample: [lvcreate, thin_check]
actions:
  description: The actions taken, or in check mode planned, in order.
  returned: always
  type: list
  elements: dict
  contains:
    action:
      description: Machine-readable kind.
      type: str
      sample: create_pool
    description:
      description: What the action does.
      type: str
      sample: "create thin pool docker/thinpool: 95%VG data, 1g metadata, chunk 524288, zeroing off"
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.cow.storage.plugins.module_utils._runner import Converge
from ansible_collections.cow.storage.plugins.module_utils._pools_in_use import CONTAINERD_CONFIG_PATH, DOCKER_CONFIG_PATH, read_pools_in_use
from ansible_collections.cow.storage.plugins.module_utils._errors import Refusal
from ansible_collections.cow.storage.plugins.module_utils._lvm import ThinPoolOps
from ansible_collections.cow.storage.plugins.module_utils._thinpool import (
    describe, facts, missing_tools, monitor_warning, plan, predict, shrink_warning, usage_warnings,
)


ARGUMENT_SPEC = dict(
    vg=dict(type="str", required=True),
    name=dict(type="str", required=True),
    pvs=dict(type="list", elements="path", default=[]),
    size=dict(type="str"),
    metadata_size=dict(type="str"),
    chunk_size=dict(type="str", default="512k"),
    zero=dict(type="bool", default=False),
    discards=dict(type="str", choices=["ignore", "nopassdown", "passdown"]),
    autoextend=dict(type="dict", default={}, apply_defaults=True, options=dict(
        threshold=dict(type="int", default=80),
        percent=dict(type="int", default=20),
    )),
    wipe_signatures=dict(type="bool", default=False),
    force=dict(type="bool", default=False),
    state=dict(type="str", choices=["present", "absent"], default="present"),
    docker_config_path=dict(type="path", default=DOCKER_CONFIG_PATH),
    containerd_config_path=dict(type="path", default=CONTAINERD_CONFIG_PATH),
)


class ThinPoolConverge(Converge):
    lock = "thinpool"

    def __init__(self, module):
        super().__init__(module)
        self.ops = ThinPoolOps(self.runner)
        self.vg, self.name = self.params["vg"], self.params["name"]
        self.users = None

    def check(self):
        if self.params["state"] == "present":
            missing = missing_tools(self.module.get_bin_path)
            if missing and self.ops.device_mapper_possible():
                raise Refusal("the host lacks %s, which a thin pool needs (Debian: lvm2, thin-provisioning-tools); nothing "
                              "was changed" % ", ".join(missing), missing_tools=missing, thinpool={}, actions=[])

    def observe(self):
        # the first observation probes the devices to use and reads which pools the engines use; the one after the
        # change reads the pool (the engines' files are this module's input, not its output)
        first = self.users is None
        devices = self.params["pvs"] if first and self.params["state"] == "present" else []
        current = self.ops.observe(self.vg, self.name, devices)
        if first:
            self.users = read_pools_in_use(self.params["docker_config_path"], self.params["containerd_config_path"])
        current["engine_users"], current["engine_errors"] = self.users
        return current

    def plan(self, current):
        return plan(current, self.params)

    def refused(self, exc, current):
        return dict(exc.details, thinpool=facts(current, self.vg, self.name)) if current is not None else dict(exc.details)

    def describe(self, current):
        return describe(current)

    def predict(self, current, before, actions):
        return predict(before, actions, current)

    def handlers(self, current):
        return self.ops.handlers()

    def result(self, current, final, actions, after):
        params, module = self.params, self.module
        thinpool = facts(final, self.vg, self.name)
        warning = shrink_warning(final, params)
        if warning:
            module.warn(warning)
        threshold = params["autoextend"]["threshold"]
        if params["state"] == "present" and not module.check_mode:
            warning = monitor_warning(thinpool, threshold)
            if warning:
                module.warn(warning)
        for warning in usage_warnings(thinpool, threshold):
            module.warn(warning)
        return dict(thinpool=thinpool)


def main():
    ThinPoolConverge(AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)).run()


if __name__ == "__main__":
    main()
