# -*- coding: utf-8 -*-
# Copyright: cow.storage contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The observer and applier of the containerd_snapshotter module: reads config.toml, asks containerd (``ctr``)
and device-mapper, writes the file and restarts the service. Every command goes through the runner."""

from __future__ import annotations

__metaclass__ = type  # pylint: disable=invalid-name

import os

from ansible_collections.cow.storage.plugins.module_utils._containerd.parse import parse_containerd_version, parse_plugin_error, parse_plugins
from ansible_collections.cow.storage.plugins.module_utils._containerd.plan import config_version
from ansible_collections.cow.storage.plugins.module_utils._containerd.snapshotters import SNAPSHOTTERS
from ansible_collections.cow.storage.plugins.module_utils._containerd.toml_edit import _get, load_toml
from ansible_collections.cow.storage.plugins.module_utils._dmsetup import parse_dmsetup_device, parse_thin_pool_status
from ansible_collections.cow.storage.plugins.module_utils._errors import Refusal
from ansible_collections.cow.storage.plugins.module_utils._files import FileRefusal, check_rewritable, read_text, write_atomic
from ansible_collections.cow.storage.plugins.module_utils._pools_in_use import thin_pool_of_docker
from ansible_collections.cow.storage.plugins.module_utils._service import Service
from ansible_collections.cow.storage.plugins.module_utils._txn import journal_name as txn_journal_name

CONTAINERD_ROOT = "/var/lib/containerd"
DEFAULT_CONFIG_PATH = "/etc/containerd/config.toml"
WAIT_SECONDS = 60


def journal_name(config_path):
    """One journal per containerd configuration (``containerd`` for the default config.toml)."""
    return txn_journal_name("containerd", config_path, DEFAULT_CONFIG_PATH)


class ContainerdHost:
    """Observes containerd, its config, the pool; writes the config and restarts containerd (with rollback)."""

    def __init__(self, module, runner, timeout=WAIT_SECONDS):
        self.module = module
        self.runner = runner
        self.timeout = timeout
        self.svc = Service(module, runner, "containerd")

    def answers(self):
        """containerd answers on its socket (a short connect timeout: a stopped containerd costs 2 s, not 10)."""
        return self.runner.run(["ctr", "--connect-timeout", "2s", "version"], check_rc=False)[0] == 0

    def plugin_state(self, cls):
        if not self.module.get_bin_path("ctr"):
            return None, "ctr is not installed"
        rc, out, err = self.runner.run(["ctr", "plugins", "ls"], check_rc=False)
        if rc != 0:
            return None, (err or out).strip()
        status = parse_plugins(out).get("%s/%s" % (cls.plugin_type, cls.name))
        error = None
        if status and status != "ok":
            dummy, detail, dummy2 = self.runner.run(["ctr", "plugins", "ls", "--detailed", "id==%s" % cls.name], check_rc=False)
            error = parse_plugin_error(detail)
        return status, error

    def observe(self, params):
        cls = SNAPSHOTTERS[params["snapshotter"]]
        path = params["config_path"]
        try:
            check_rewritable(path, "config_path")
        except FileRefusal as exc:
            raise Refusal("%s; nothing was changed" % exc) from None
        current = {"config_path": path, "config_exists": os.path.exists(path), "config_text": "", "doc": {}}
        if current["config_exists"]:
            current["config_text"] = read_text(path)
            try:
                current["doc"] = load_toml(current["config_text"])
            except ValueError as exc:
                current["config_error"] = str(exc)
        if self.module.get_bin_path("containerd"):
            dummy, out, dummy2 = self.runner.run(["containerd", "--version"], check_rc=False)
            current["version"] = parse_containerd_version(out)
            parts = (current["version"] or "0.0").split(".")
            current["major"], current["minor"] = int(parts[0]), int(parts[1])
        if self.module.get_bin_path("ctr"):
            current["running"] = self.answers()
        if current.get("running"):
            current["plugin_status"], current["plugin_error"] = self.plugin_state(cls)
        doc = current["doc"]
        version = config_version(current) if not current.get("config_error") else 2
        table = _get(doc, cls.table_path(version if isinstance(version, int) else 2)) or {}
        current["configured"] = table
        current["configured_root_path"] = table.get("root_path") or os.path.join(doc.get("root") or CONTAINERD_ROOT, cls.plugin_id())
        current["root_path"] = params.get("root_path") or current["configured_root_path"]
        # the devmapper snapshotter keeps its pool's device metadata in <root_path>/<pool_name>.db
        current["metadata_exists"] = bool(params.get("pool_name")) and os.path.exists(
            os.path.join(current["root_path"], "%s.db" % params["pool_name"]))
        if params.get("pool_name") and "/" not in params["pool_name"]:
            current["pool"] = self.pool(params["pool_name"])
        docker_path = params["docker_config_path"]
        current["docker_config_path"] = docker_path
        if os.path.exists(docker_path):
            current["docker_pool"] = thin_pool_of_docker(read_text(docker_path))
        if params["state"] == "absent" and current.get("plugin_status") == "ok":
            current["snapshots"] = self.snapshots(cls)
        return current

    def pool(self, name):
        if not self.module.get_bin_path("dmsetup"):
            return {"missing": True, "error": "dmsetup is not installed"}
        rc, out, err = self.runner.run(["dmsetup", "table", name], check_rc=False)
        if rc != 0 or not out.strip():
            return {"missing": True, "error": "; ".join(line.strip() for line in (err or out).splitlines() if line.strip())}
        table = parse_dmsetup_device(out)[0]
        info = {"target": table["target"]}
        if table["target"] == "thin-pool":
            info["block_bytes"] = int(table["params"].split()[2]) * 512
            dummy, out, dummy2 = self.runner.run(["dmsetup", "status", name], what="reading the thin pool's status")
            line = parse_dmsetup_device(out)[0]
            info["status"] = parse_thin_pool_status(line["params"])
        return info

    def snapshots(self, cls):
        dummy, out, dummy2 = self.runner.run(["ctr", "namespaces", "ls", "-q"], what="listing containerd namespaces")
        found = {}
        for namespace in out.split():
            dummy, listing, dummy2 = self.runner.run(["ctr", "-n", namespace, "snapshots", "--snapshotter", cls.name, "ls"],
                                                     check_rc=False)
            count = len([line for line in listing.splitlines()[1:] if line.strip()])
            if count:
                found[namespace] = count
        return found

    # --- apply ------------------------------------------------------------------------------------------------------
    def write(self, path, text, backup=False):
        """Write config.toml atomically and durably (fsync), keeping its mode, owner and SELinux context."""
        return write_atomic(path, text, mode=0o644, backup=backup, module=self.module)

    def restore(self, path, existed, text):
        """Put back the configuration a change replaced (or remove the file it created) and restart containerd."""
        if existed:
            self.write(path, text)
        else:
            self.remove(path)
        return self.restart()

    def remove(self, path):
        if os.path.exists(path):
            os.unlink(path)

    def restart(self):
        dummy, out, err = self.svc.control("restart")
        if not self.svc.wait(self.answers, self.timeout, until_failed=False):
            return False, (err or out or "containerd did not answer within %d s" % self.timeout).strip()
        return True, None

    def journal(self):
        out = self.svc.journal(lines=20)
        if out is None:
            return None
        lines = [line for line in out.splitlines() if "level=error" in line or "level=fatal" in line or "failed" in line]
        return lines[-1] if lines else None
