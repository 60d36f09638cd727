#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: cow.storage contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: docker_storage_backend
short_description: Choose the Docker Engine storage driver safely
version_added: 0.1.0
description:
  - Sets the engine's storage driver, its options, data root and image store in C(daemon.json), merging only those
    keys and keeping every other one.
  - Checks the host before changing anything (kernel filesystem support, backing filesystem and d_type of the data
    root, thin pool, drivers removed from the engine, xfs project quota for size options, accepted options).
  - Never hides images silently; O(on_driver_change) decides what happens to the images and containers of the current
    driver.
  - Validates the new file where the engine can (C(dockerd --validate), Docker Engine 23.0 and later), writes it
    atomically, restarts the engine, waits for it and verifies the effective driver. If the engine does not come back,
    the previous file is restored, the engine restarted, and the module fails with C(rolled_back=true) and the engine's
    own error.
author: cow.storage developers (@cow-storage)
options:
  driver:
    description:
      - The storage driver.
      - V(auto) follows the engine's own priority order for its version, restricted to the drivers this host supports,
        and keeps prior driver data the way the engine does (one driver directory with data under the data root wins;
        several make the engine refuse to start). The chosen driver is written explicitly and the reason returned.
    type: str
    required: true
    choices: [overlay2, fuse-overlayfs, btrfs, zfs, vfs, devicemapper, auto]
  image_store:
    description:
      - V(graphdriver) stores images with the classic graph driver.
      - V(containerd) uses the containerd image store (the driver's snapshotter, for example C(overlayfs) for
        C(overlay2)) and writes C(features.containerd-snapshotter=true); Docker Engine 24.0 or later.
    type: str
    default: graphdriver
    choices: [graphdriver, containerd]
  options:
    description:
      - "Storage options (C(storage-opts)) as a dict, for example C(overlay2.size: 10G) or C(dm.thinpooldev: /dev/mapper/docker-thinpool)."
      - Each driver accepts its own options only; an empty dict removes C(storage-opts).
      - When omitted, existing C(storage-opts) are kept if the driver accepts them, otherwise the module refuses.
    type: dict
  data_root:
    description: The engine's data root (C(data-root)); an absolute path. When omitted the current one is kept.
    type: path
  config_path:
    description: The engine's daemon configuration. It must hold a JSON object when it exists.
    type: path
    default: /etc/docker/daemon.json
  on_driver_change:
    description:
      - What to do when the change would hide images or containers (the engine only sees the data of its current driver).
      - V(fail) changes nothing and lists the images and containers that would be hidden.
      - V(preserve) switches; the old driver's data stays on disk (path and size returned).
      - V(migrate) saves every tagged image, switches, loads them and verifies their image IDs. Containers are not
        migrated; running containers make it refuse unless O(stop_containers=true).
      - V(wipe) removes every container and image of the current driver, then switches; needs O(force=true).
    type: str
    default: fail
    choices: [fail, preserve, migrate, wipe]
  stop_containers:
    description: With O(on_driver_change=migrate), stop running containers instead of refusing.
    type: bool
    default: false
  force:
    description: Allows O(on_driver_change=wipe).
    type: bool
    default: false
  restart:
    description:
      - Restart the engine when the configuration changed (start it when it is stopped), wait for it and verify the driver.
      - With V(false) the new file is written and the engine keeps its driver until its next restart.
    type: bool
    default: true
  validate:
    description: Validate the new file with C(dockerd --validate --config-file) before writing it, where the engine has it (23.0+).
    type: bool
    default: true
extends_documentation_fragment:
  - cow.storage.attributes
attributes:
  check_mode:
    support: full
    details:
      - The module plans every change before applying any; in check mode the plan is returned as C(actions).
  diff_mode:
    support: full
    details: The diff is C(daemon.json) before and after.
  idempotent:
    support: full
notes:
  - The engine is restarted with C(systemctl) when systemd runs the host, else with C(service).
  - Storage flags given to dockerd on its command line (C(-s), C(--data-root)) are not read; they conflict with C(daemon.json).
seealso:
  - module: cow.storage.docker_storage_info
"""

EXAMPLES = r"""
- name: overlay2, moving the images of the current driver
  cow.storage.docker_storage_backend:
    driver: overlay2
    on_driver_change: migrate

- name: Let the engine's own order decide, on a fresh host
  cow.storage.docker_storage_backend:
    driver: auto
  register: __backend

- name: devicemapper on an existing thin pool (Docker Engine before 25.0)
  cow.storage.docker_storage_backend:
    driver: devicemapper
    options:
      dm.thinpooldev: /dev/mapper/docker-thinpool
      dm.use_deferred_removal: "true"
      dm.use_deferred_deletion: "true"

- name: Plan only
  cow.storage.docker_storage_backend:
    driver: btrfs
    on_driver_change: preserve
  check_mode: true
  diff: true
"""

RETURN = r"""
storage:
  description: The storage of the engine after the run (predicted in check mode).
  returned: always
  type: dict
  contains:
    driver:
      description: Effective driver (the snapshotter with the containerd image store).
      type: str
      sample: overlay2
    requested_driver:
      description: The driver the module chose, and why (C(auto) resolves here).
      type: dict
      sample: {name: overlay2, reason: requested}
    target_driver:
      description:
        - The name the engine reports once it runs what was asked (RV(storage.requested_driver), or its containerd
          snapshotter with O(image_store=containerd), e.g. C(overlayfs) for C(overlay2)); a health check compares
          RV(storage.driver) with it.
      type: str
      sample: overlay2
    image_store:
      description: V(graphdriver) or V(containerd).
      type: str
      sample: graphdriver
    engine_version:
      description: The engine's version.
      type: str
      sample: 20.10.24+dfsg1
    running:
      description: Whether the engine answers.
      type: bool
      sample: true
    backing_filesystem:
      description: Filesystem type under the data root.
      type: str
      sample: xfs
    mount_options:
      description: Mount options of the filesystem under the data root.
      type: list
      elements: str
      sample: [rw, relatime, noquota]
    d_type:
      description: Whether that filesystem supports d_type (null when unknown).
      type: bool
      sample: true
    data_root:
      description: The data root.
      type: str
      sample: /var/lib/docker
    prior_driver_data:
      description:
        - Driver directories under the data root that are not empty, with their path, size in bytes, number of entries
          (what the engine counts as prior driver data) and number of layers (image and container data).
      type: dict
      sample: {vfs: {path: /var/lib/docker/vfs, size: 1245184, entries: 1, layers: 1}}
    images:
      description: Number of images the engine shows.
      type: int
      sample: 1
    containers:
      description: Number of containers the engine shows.
      type: int
      sample: 0
    validation:
      description: How the new file was validated, or why not.
      type: str
      sample: "skipped: dockerd 20.10.24+dfsg1 has no --validate (added in Docker Engine 23.0)"
    restarted:
      description: Whether the engine was (re)started.
      type: bool
      sample: true
    rolled_back:
      description: Whether the previous file was restored after the engine failed to start.
      type: bool
      sample: false
    migration:
      description: With O(on_driver_change=migrate), the images saved and loaded with their IDs, and whether all IDs match.
      type: dict
      sample: {images: [{name: "cowtest:1", id: "sha256:0d3e..."}], verified: true, containers_left_behind: []}
    preserved:
      description: With O(on_driver_change=preserve), the old driver data left on disk.
      type: dict
      sample: {vfs: {path: /var/lib/docker/vfs, size: 1245184, entries: 1, layers: 1}}
actions:
  description: The actions taken, or planned in check mode, in order.
  returned: always
  type: list
  elements: dict
  sample:
    - {action: write_config, description: "write /etc/docker/daemon.json (~storage-driver)"}
    - {action: restart, description: restart the engine and verify it runs overlay2}
would_hide:
  description: With O(on_driver_change=fail), the images, containers and stopped-engine driver data a switch would hide.
  returned: failure
  type: dict
  sample: {images: [{name: "cowtest:1", id: "sha256:6adc..."}], containers: [{name: stopped1, state: exited}], driver_data: {}}
engine_error:
  description: The engine's own start error (journal tail) when it did not come back.
  returned: failure
  type: str
  sample: 'failed to start daemon: error initializing graphdriver: strconv.ParseBool: parsing "maybe": invalid syntax'
"""

import os
import tempfile

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.cow.storage.plugins.module_utils._docker_daemon import Host
from ansible_collections.cow.storage.plugins.module_utils._drivers import (
    CHOICES,
    BackendError,
    plan,
    render_config,
    validation_note,
)
from ansible_collections.cow.storage.plugins.module_utils._runner import Runner, apply_plan

ARGUMENT_SPEC = dict(
    driver=dict(type="str", required=True, choices=CHOICES),
    image_store=dict(type="str", default="graphdriver", choices=["graphdriver", "containerd"]),
    options=dict(type="dict"),
    data_root=dict(type="path"),
    config_path=dict(type="path", default="/etc/docker/daemon.json"),
    on_driver_change=dict(type="str", default="fail", choices=["fail", "preserve", "migrate", "wipe"]),
    stop_containers=dict(type="bool", default=False),
    force=dict(type="bool", default=False),
    restart=dict(type="bool", default=True),
    validate=dict(type="bool", default=True),
)


def normalise(params):
    out = dict(params)
    if params.get("data_root"):
        out["data_root"] = os.path.normpath(params["data_root"])
    if params.get("options") is not None:
        out["options"] = dict((str(k).strip().lower(), str(v).strip()) for k, v in params["options"].items())
    return out


def write_atomic(module, path, text):
    directory = os.path.dirname(path) or "/"
    if not os.path.isdir(directory):
        os.makedirs(directory, 0o755)
    fd, tmp = tempfile.mkstemp(prefix=".daemon.json.", dir=directory)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(text.encode("utf-8", "surrogateescape"))
        os.chmod(tmp, 0o644)
        module.atomic_move(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


class Apply:
    """Handlers of the planned actions, with the rollback of a failed start."""

    def __init__(self, module, host, observed, result):
        self.module = module
        self.host = host
        self.runner = host.runner
        self.observed = observed
        self.result = result
        self.written = False

    def fail(self, msg, **extra):
        self.result.update(extra)
        self.module.fail_json(msg=msg, **self.result)

    def stop_containers(self, action):
        self.runner.run(["docker", "stop"] + action.args["names"], what="stopping containers")

    def save_images(self, action):
        path = action.args["path"]
        os.makedirs(os.path.dirname(path), 0o700, exist_ok=True)
        self.runner.run(["docker", "save", "-o", path] + [i["name"] for i in action.args["images"]], what="saving images to %s" % path)
        self.result["storage"]["migration"] = {"images": action.args["images"], "archive": path, "verified": False,
                                               "containers_left_behind": [c["name"] for c in self.observed["containers"]]}

    def wipe_engine(self, action):
        if action.args["containers"]:
            self.runner.run(["docker", "rm", "-f"] + action.args["containers"], what="removing containers")
        if action.args["images"]:
            self.runner.run(["docker", "rmi", "-f"] + sorted(set(action.args["images"])), what="removing images")

    def remove_driver_data(self, action):
        self.runner.run(["rm", "-rf", "--one-file-system", action.args["path"]], what="removing %s" % action.args["path"])

    def validate(self, action):
        directory = os.path.dirname(self.observed["config_path"]) or "/"
        fd, tmp = tempfile.mkstemp(prefix=".daemon.json.validate.", dir=directory if os.path.isdir(directory) else None)
        try:
            with os.fdopen(fd, "w") as handle:
                handle.write(render_config(action.args["config"]))
            rc, out, err = self.runner.run(["dockerd", "--validate", "--config-file", tmp], check_rc=False)
        finally:
            os.unlink(tmp)
        if rc != 0:
            self.fail("validate: dockerd --validate rejected the new configuration (nothing was changed): %s" % (err or out).strip())

    def write_config(self, action):
        write_atomic(self.module, self.observed["config_path"], render_config(action.args["config"]))
        self.written = True

    def restore(self):
        if self.observed["config_exists"]:
            write_atomic(self.module, self.observed["config_path"], self.observed["config_text"])
        elif os.path.exists(self.observed["config_path"]):
            os.unlink(self.observed["config_path"])

    def restart(self, action):
        was_running = self.observed["engine"].get("running")
        self.host.service("restart" if was_running else "start")
        engine = self.host.wait()
        self.result["storage"]["restarted"] = True
        problem = None
        if not engine.get("running"):
            problem = "the engine did not come back"
        elif engine.get("driver") != action.args["driver"] or engine.get("image_store") != action.args["image_store"]:
            problem = "the engine runs %s/%s, not %s/%s" % (
                engine.get("driver"), engine.get("image_store"), action.args["driver"], action.args["image_store"])
        if problem is None:
            return
        error, journal = self.host.journal()
        if not self.written:
            self.fail("restart: %s: %s" % (problem, error or "see the engine's log"), engine_error=error, journal=journal)
        self.restore()
        if was_running:
            self.host.service("restart")
            back = self.host.wait()
        else:
            self.host.service("stop")
            back = {"running": False}
        self.result["storage"].update({"rolled_back": True, "running": bool(back.get("running")),
                                       "driver": back.get("driver") if back.get("running") else None})
        self.fail("the engine did not start with the new configuration: %s after writing %s, so the previous file was "
                  "restored and the engine %s; engine error: %s"
                  % (problem, self.observed["config_path"],
                     ("restarted on %s" % back.get("driver")) if back.get("running") else
                     ("left stopped as it was" if not was_running else "did NOT come back either"), error or "unknown"),
                  engine_error=error, journal=journal, rolled_back=True)

    def load_images(self, action):
        path = action.args["path"]
        self.runner.run(["docker", "load", "-i", path], what="loading images from %s (kept for a retry)" % path)
        wrong = []
        for image in action.args["images"]:
            rc, out, dummy = self.runner.run(["docker", "image", "inspect", "--format", "{{.Id}}", image["name"]], check_rc=False)
            if rc != 0 or out.strip() != image["id"]:
                wrong.append("%s: %s, expected %s" % (image["name"], out.strip() or "missing", image["id"]))
        if wrong:
            self.fail("on_driver_change: migrate: image IDs differ after loading %s (archive kept): %s" % (path, "; ".join(wrong)))
        os.unlink(path)
        try:
            os.rmdir(os.path.dirname(path))
        except OSError:
            pass
        self.result["storage"]["migration"]["verified"] = True
        if self.result["storage"]["migration"]["containers_left_behind"]:
            self.module.warn("containers are not migrated; they stay with the old driver's data: %s"
                             % ", ".join(self.result["storage"]["migration"]["containers_left_behind"]))
        self.result["storage"]["migration"]["archive"] = None

    def handlers(self):
        return dict((kind, getattr(self, kind)) for kind in (
            "stop_containers", "save_images", "wipe_engine", "remove_driver_data", "validate", "write_config", "restart", "load_images"))


def describe(observed, engine, facts, params):
    """One description of the storage, used for the result before and after the run."""
    running = bool(engine.get("running"))
    return {
        "driver": engine.get("driver") if running else None,
        "requested_driver": {"name": facts.get("driver"), "reason": facts.get("reason")},
        "target_driver": (facts.get("target") or [None])[0],
        "image_store": engine.get("image_store") if running else None,
        "engine_version": observed.get("version"),
        "running": running,
        "backing_filesystem": observed.get("backing_fs"),
        "mount_options": observed.get("mount_options"),
        "d_type": observed.get("d_type"),
        "data_root": engine.get("data_root") if running else observed.get("target_data_root"),
        "prior_driver_data": observed.get("prior"),
        "images": engine.get("images", 0) if running else 0,
        "containers": engine.get("containers", 0) if running else 0,
        "validation": validation_note(params, observed),
        "restarted": False,
        "rolled_back": False,
    }


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    params = normalise(module.params)
    runner = Runner(module)
    host = Host(module, runner, params)
    try:
        if params.get("data_root") and not params["data_root"].startswith("/"):
            raise BackendError("data_root: %s is relative; give an absolute path" % module.params["data_root"])
        observed = host.observe()
        actions, facts = plan(observed, params)
    except BackendError as exc:
        module.fail_json(msg=str(exc), changed=False, **exc.details)

    before_text = observed["config_text"]
    after_text = render_config(facts["config"]) if facts["config_changes"] else before_text
    storage = describe(observed, observed["engine"], facts, params)
    if module.check_mode and actions:
        target = facts["target"]
        storage.update({"driver": target[0], "image_store": target[1], "data_root": target[2],
                        "running": bool(params["restart"] or observed["engine"].get("running")),
                        "restarted": any(a.kind == "restart" for a in actions)})
    if facts["switching"] and params["on_driver_change"] == "preserve":
        storage["preserved"] = dict((k, v) for k, v in observed["prior"].items() if k == observed["engine"].get("driver"))
    result = {"changed": bool(actions), "actions": [a.to_dict() for a in actions], "storage": storage,
              "diff": {"before": before_text, "after": after_text,
                       "before_header": params["config_path"], "after_header": params["config_path"]}}
    apply = Apply(module, host, observed, result)
    apply_plan(module, actions, apply.handlers())
    if actions and not module.check_mode:
        engine = host.engine()
        now = dict(observed, prior=host.prior(engine.get("data_root") or observed["target_data_root"]))
        fresh = describe(now, engine, facts, params)
        for key in ("restarted", "migration", "preserved"):
            if key in storage:
                fresh[key] = storage[key]
        if facts["switching"] and params["on_driver_change"] == "preserve":
            fresh["preserved"] = dict((k, v) for k, v in now["prior"].items() if k == observed["engine"].get("driver"))
        result["storage"] = fresh
    if facts["config_changes"] and not params["restart"]:
        module.warn("%s changed; the engine keeps its current driver until it is restarted (restart=false)" % params["config_path"])
    module.exit_json(**result)


if __name__ == "__main__":
    main()
