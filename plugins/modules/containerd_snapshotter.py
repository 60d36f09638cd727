#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: cow.storage contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

__metaclass__ = type  # pylint: disable=invalid-name

DOCUMENTATION = r"""
module: containerd_snapshotter
short_description: Configure containerd's devmapper snapshotter on a thin pool of its own, with rollback
version_added: 1.0.0
description:
  - Writes the C(io.containerd.snapshotter.v1.devmapper) plugin table of containerd's C(config.toml) (C(pool_name),
    C(root_path), C(base_image_size), C(discard_blocks), C(async_remove), C(fs_type)), restarts containerd and checks that the
    plugin loaded (C(ctr plugins ls) status C(ok)). This is what engines using containerd's store need for block-level
    copy-on-write, that is containerd itself and Kubernetes nodes through its CRI plugin (O(default_snapshotter)), and Docker Engine with
    the containerd image store (see M(cow.storage.docker_storage_backend) O(cow.storage.docker_storage_backend#module:image_store)).
  - The file is edited in place, keeping comments, key order and every other table; only the keys named here change. The
    result is parsed again and must equal the original plus exactly those keys before it is written (atomically).
  - The file's own C(version) decides the table names. containerd 1.x reads version 2; containerd 2.x writes version 3 (and
    converts a version 2 file when it loads it). The devmapper table is C([plugins."io.containerd.snapshotter.v1.devmapper"])
    in both; the CRI default snapshotter (O(default_snapshotter)) is C([plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter) in version 2 and C([plugins."io.containerd.cri.v1.images"] snapshotter) in version 3. A missing file, or one
    without keys, gets the installed containerd's version (what its C(containerd config default) writes).
  - If containerd does not come back, or comes back with the plugin in error, the previous file is restored, containerd is
    restarted, and the module fails with containerd's own error and RV(snapshotter.rolled_back=true).
  - The write and the restart are recorded in a journal (C(/var/lib/cow-storage/journal/containerd.json), root's alone).
    A run killed between them is finished by the next one, which restarts containerd on the written file and checks the
    plugin (or restores the previous file when containerd does not take it) and returns RV(recovered); check mode reports
    it meanwhile as RV(interrupted_change) and a single action C(resume).
  - Refuses, naming the parameter and changing nothing, a pool that does not exist or is not a C(thin-pool) target, Docker's
    devicemapper pool (C(dm.thinpooldev) in daemon.json), a pool that already holds another owner's thin devices, a relative
    O(root_path), a size containerd cannot read, a C(config.toml) that is not valid TOML, is a version 1 file, a version 3
    file on containerd 1.x or of a version this module does not know, and
    O(state=absent) while containerd holds devmapper snapshots unless O(force=true).
  - Observes, plans, then applies; in check mode the plan is the result, listed in RV(actions).
author:
  - cow.storage developers (@cow-storage)
requirements:
  - containerd 1.6 or later with C(ctr); C(dmsetup)
  - Python 3.11 or later on the host (C(tomllib)), or the C(tomli) package
  - a thin pool made for containerd alone, for example with M(cow.storage.thinpool)
extends_documentation_fragment:
  - cow.storage.attributes
  - cow.storage.attributes.FULL
  - cow.storage.attributes.HOST_LOCK
options:
  snapshotter:
    description: The snapshotter plugin to configure.
    type: str
    choices: [devmapper]
    default: devmapper
  pool_name:
    description:
      - Device-mapper name of the thin pool (as in C(/dev/mapper/)), for example C(containerd-thinpool) for the LVM pool
        C(containerd/thinpool). M(cow.storage.thinpool) returns its path as RV(cow.storage.thinpool#module:thinpool.dm_path).
      - The pool must be containerd's alone; Docker's devicemapper pool is refused.
      - Required with O(state=present).
    type: str
  root_path:
    description:
      - Directory for the snapshotter's metadata. Omitted, containerd uses
        C(<containerd root>/io.containerd.snapshotter.v1.devmapper).
    type: path
  base_image_size:
    description: Size of the base thin device every image and container device derives from (the largest root filesystem).
    type: str
    default: 10GB
  discard_blocks:
    description: Discard blocks when a device is removed, so the pool gets the space back.
    type: bool
    default: true
  async_remove:
    description: Remove devices in the snapshot garbage collector's cleanup instead of at once. Omitted, left as it is.
    type: bool
  fs_type:
    description: Filesystem of the snapshot devices (containerd 1.7 or later for C(xfs)). Omitted, left as it is (containerd's default is ext4).
    type: str
    choices: [ext4, xfs]
  default_snapshotter:
    description:
      - Also make this snapshotter the default of containerd's CRI plugin (what Kubernetes uses). V(false) leaves the CRI
        setting as it is.
    type: bool
    default: false
  config_path:
    description: containerd's configuration file; a missing file is created with containerd's current schema version.
    type: path
    default: /etc/containerd/config.toml
  docker_config_path:
    description: Docker's daemon.json, read to refuse Docker's own thin pool.
    type: path
    default: /etc/docker/daemon.json
  restart:
    description:
      - Restart (or start) containerd to apply the change and check that the plugin loads, rolling back on failure.
      - With V(false) the file is written and RV(snapshotter.pending_restart) is V(true).
    type: bool
    default: true
  timeout:
    description: Seconds to wait for containerd to answer after a (re)start before the change is rolled back.
    type: int
    default: 60
    version_added: 1.0.0
  backup:
    description: Keep a timestamped copy of the previous configuration file.
    type: bool
    default: false
  force:
    description: With O(state=absent), remove the configuration although containerd holds devmapper snapshots (they become invisible).
    type: bool
    default: false
  state:
    description: V(present) writes the plugin table; V(absent) removes it (and the CRI default if it names this snapshotter).
    type: str
    choices: [present, absent]
    default: present
seealso:
  - module: cow.storage.thinpool
  - module: cow.storage.docker_storage_backend
  - name: containerd devmapper snapshotter
    description: The plugin's configuration keys.
    link: https://github.com/containerd/containerd/blob/main/docs/snapshotters/devmapper.md
"""

EXAMPLES = r"""
- name: A thin pool for containerd alone
  cow.storage.thinpool:
    vg: containerd
    name: thinpool
    pvs: [/dev/disk/by-id/virtio-data1]
    size: 90%VG
  register: pool

- name: Containerd's devmapper snapshotter on it, and the default for Kubernetes
  cow.storage.containerd_snapshotter:
    pool_name: "{{ pool.thinpool.dm_path | basename }}"
    base_image_size: 10GB
    default_snapshotter: true

- name: Preview a change with its diff
  cow.storage.containerd_snapshotter:
    pool_name: containerd-thinpool
    base_image_size: 20GB
  check_mode: true
  diff: true

- name: Remove the configuration (refused while containerd holds devmapper snapshots)
  cow.storage.containerd_snapshotter:
    state: absent
"""

RETURN = r"""
snapshotter:
  description: The snapshotter's state after the run (in check mode, as found).
  returned: always
  type: dict
  contains:
    name:
      description: Snapshotter name.
      type: str
      sample: devmapper
    plugin_id:
      description: containerd plugin id (the config.toml table name).
      type: str
      sample: io.containerd.snapshotter.v1.devmapper
    status:
      description: The plugin's status in C(ctr plugins ls) (C(ok), C(error), C(skip)); null when containerd does not run.
      type: str
      sample: ok
    error:
      description: The plugin's init error, when its status is C(error).
      type: str
      sample: devmapper not configured
    containerd_version:
      description: containerd's version.
      type: str
      sample: 1.6.20
    running:
      description: Whether containerd answers on its socket.
      type: bool
    config_path:
      description: The configuration file.
      type: str
    config_version:
      description: Its schema version.
      type: int
      sample: 2
    pool_name:
      description: Device-mapper name of the pool.
      type: str
      sample: containerd-thinpool
    pool_target:
      description: Device-mapper target of the pool device.
      type: str
      sample: thin-pool
    pool_data_used_blocks:
      description: Data blocks in use in the pool.
      type: int
    pool_data_total_blocks:
      description: Data blocks in the pool.
      type: int
    pool_block_bytes:
      description: Bytes per pool data block.
      type: int
      sample: 524288
    root_path:
      description: Effective metadata directory of the snapshotter.
      type: str
      sample: /var/lib/containerd/io.containerd.snapshotter.v1.devmapper
    snapshots:
      description: With O(state=absent), devmapper snapshots per containerd namespace.
      type: dict
    restarted:
      description: containerd was restarted (or started) by this run.
      type: bool
    rolled_back:
      description: The new configuration failed and the previous one was restored.
      type: bool
    pending_restart:
      description: The file changed but containerd was not restarted (O(restart=false)).
      type: bool
actions:
  description: The actions taken, or in check mode planned, in order.
  returned: always
  type: list
  elements: dict
  contains:
    action:
      description: Machine-readable kind (C(write_config), C(restart)).
      type: str
      sample: write_config
    description:
      description: What the action does.
      type: str
      sample: 'write /etc/containerd/config.toml: pool_name: null -> "containerd-thinpool"'
recovered:
  description:
    - The interrupted change this run found in the journal, and what it did with it (C(finished), C(dropped) when it had
      not written yet, or C(rolled back) with containerd's error).
  returned: when the journal held an interrupted change
  type: dict
  sample: {journal: "containerd_snapshotter change started ...", outcome: finished}
interrupted_change:
  description: In check mode, the interrupted change the next run will finish (its steps done and still to do).
  returned: in check mode, when the journal holds an interrupted change
  type: str
  sample: "containerd_snapshotter change started 2026-12-08 01:00:00 by pid 4242: ...; steps done: write_config; still to do: restart"
backup_file:
  description: The copy of the previous configuration, with O(backup=true).
  returned: changed and backup requested
  type: str
"""

import os
import sys

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.cow.storage.plugins.module_utils._errors import Refusal
from ansible_collections.cow.storage.plugins.module_utils._files import read_text
from ansible_collections.cow.storage.plugins.module_utils._runner import Converge
from ansible_collections.cow.storage.plugins.module_utils._txn import Journal, summary
from ansible_collections.cow.storage.plugins.module_utils._containerd.host import ContainerdHost, journal_name
from ansible_collections.cow.storage.plugins.module_utils._containerd.plan import facts, plan
from ansible_collections.cow.storage.plugins.module_utils._containerd.snapshotters import SNAPSHOTTERS
from ansible_collections.cow.storage.plugins.module_utils._containerd.toml_edit import toml_available


ARGUMENT_SPEC = dict(
    snapshotter=dict(type="str", choices=sorted(SNAPSHOTTERS), default="devmapper"),
    pool_name=dict(type="str"),
    root_path=dict(type="path"),
    base_image_size=dict(type="str", default="10GB"),
    discard_blocks=dict(type="bool", default=True),
    async_remove=dict(type="bool"),
    fs_type=dict(type="str", choices=["ext4", "xfs"]),
    default_snapshotter=dict(type="bool", default=False),
    config_path=dict(type="path", default="/etc/containerd/config.toml"),
    docker_config_path=dict(type="path", default="/etc/docker/daemon.json"),
    restart=dict(type="bool", default=True),
    backup=dict(type="bool", default=False),
    timeout=dict(type="int", default=60),
    force=dict(type="bool", default=False),
    state=dict(type="str", choices=["present", "absent"], default="present"),
)


class SnapshotterConverge(Converge):
    # one cow.storage run changes a host's storage at a time (docker_storage_backend takes the same lock)
    lock = "containerd_snapshotter"

    def __init__(self, module):
        super().__init__(module)
        self.host = ContainerdHost(module, self.runner, timeout=self.params["timeout"])
        self.state = {"restarted": False, "backup_file": None}
        self.journal = Journal(journal_name(self.params["config_path"]))

    def journal_record(self, current, actions):
        return {"config_path": self.params["config_path"], "previous_exists": current["config_exists"],
                "previous_text": current["config_text"], "state": self.params["state"], "snapshotter": self.params["snapshotter"]}

    def recover(self):
        """A change killed between its write and containerd's restart (or in the restart) left a config.toml that
        containerd does not run: the next run restarts containerd on it and checks the plugin, and puts the previous
        file back (and restarts again) when containerd does not take it. A change killed before it wrote is dropped."""
        try:
            pending = self.journal.load()
        except ValueError as exc:
            raise Refusal("%s; nothing was changed: read it, then remove it by hand" % exc) from None
        if not pending:
            return None
        text = summary(pending)
        if self.module.check_mode:
            self.module.exit_json(changed=True, interrupted_change=text, snapshotter=facts(self.host.observe(self.params), self.params),
                                  actions=[{"action": "resume", "description": "finish the interrupted change: %s" % text}])
        path = pending["config_path"]
        written = os.path.exists(path) != pending["previous_exists"] or (
            os.path.exists(path) and read_text(path) != pending["previous_text"])
        if not written:
            self.journal.finish()
            return {"journal": text, "outcome": "dropped: the run stopped before it changed %s" % path}
        if "restart" in (pending.get("done") or []):
            self.journal.finish()
            return {"journal": text, "outcome": "finished"}
        cls = SNAPSHOTTERS[pending["snapshotter"]]
        ok, error = self.host.restart()
        status, plugin_error = self.host.plugin_state(cls) if ok else (None, None)
        if ok and (pending["state"] == "absent" or status == "ok"):
            self.journal.finish()
            return {"journal": text, "outcome": "finished"}
        self.host.restore(path, pending["previous_exists"], pending["previous_text"])
        self.journal.finish()
        return {"journal": text, "outcome": "rolled back: containerd did not accept the written configuration (%s); the "
                "previous one was restored and containerd restarted" % (error or plugin_error or "plugin status %s" % status)}

    def check(self):
        if not toml_available():
            raise Refusal("containerd_snapshotter needs a TOML parser on the host: Python 3.11 or later (tomllib), "
                          "or the tomli package for Python %s" % sys.version.split()[0])
        if self.params["timeout"] <= 0:
            raise Refusal("timeout: %d must be a positive number of seconds; nothing was changed" % self.params["timeout"])

    def observe(self):
        return self.host.observe(self.params)

    def plan(self, current):
        return plan(current, self.params)

    def refused(self, exc, current):
        return dict(snapshotter=facts(current, self.params), actions=[]) if current is not None else {}

    def describe(self, current):
        return current["config_text"]

    def predict(self, current, before, actions):
        write = next((a for a in actions if a.kind == "write_config"), None)
        return write.args["text"] if write else before

    def handlers(self, current):
        host, params, state = self.host, self.params, self.state
        write = any(a.kind == "write_config" for a in self.actions)

        def do_write(action):
            state["backup_file"] = host.write(action.args["path"], action.args["text"], params["backup"])

        def do_restart(dummy):
            cls = SNAPSHOTTERS[params["snapshotter"]]
            ok, error = host.restart()
            status, plugin_error = host.plugin_state(cls) if ok else (None, None)
            if ok and (params["state"] == "absent" or status == "ok"):
                state["restarted"] = True
                return
            reason = error or "the %s plugin's status is %s after the restart: %s" % (
                cls.name, status, plugin_error or host.journal() or "no error reported")
            if write:
                host.restore(params["config_path"], current["config_exists"], current["config_text"])
            self.journal.finish()  # undone: nothing is left for the next run to finish
            failed = host.observe(params)
            actions = self.actions
            self.module.fail_json(msg="containerd did not accept the new configuration (%s); %s" % (
                reason, "the previous configuration was restored and containerd restarted" if write else "nothing was changed"),
                snapshotter=facts(failed, params, restarted=True, rolled_back=bool(write)), changed=bool(actions),
                actions=[a.to_dict() for a in actions], diff=self.diff(current["config_text"], self.predict(current, None, actions)))

        return {"write_config": do_write, "restart": do_restart}

    def diff(self, before, after):
        path = self.params["config_path"]
        return dict(before=before, after=after, before_header=path, after_header=path)

    def result(self, current, final, actions, after):
        params, state = self.params, self.state
        out = {"diff": self.diff(current["config_text"], after)}
        if state["backup_file"]:
            out["backup_file"] = state["backup_file"]
        write = any(a.kind == "write_config" for a in actions)
        pending = write and not state["restarted"] and not self.module.check_mode
        if pending and final.get("running"):
            self.module.warn("%s changed but containerd was not restarted (restart=false): the change takes effect at its "
                             "next restart" % params["config_path"])
        out["snapshotter"] = facts(final, params, restarted=state["restarted"], pending=pending)
        return out


def main():
    module = AnsibleModule(
        argument_spec=ARGUMENT_SPEC,
        required_if=[("state", "present", ["pool_name"])],
        supports_check_mode=True,
    )
    SnapshotterConverge(module).run()


if __name__ == "__main__":
    main()
