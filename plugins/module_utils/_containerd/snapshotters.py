# -*- coding: utf-8 -*-
# Copyright: cow.storage contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""containerd's snapshotters as a registry of small classes (``SNAPSHOTTERS``), as the Docker family's drivers
are: each names its plugin and the table of config.toml it owns, refuses the inputs it cannot take, and gives the
values of its keys. A new snapshotter is one class here and its name in the module's ``choices``."""

from __future__ import annotations

__metaclass__ = type  # pylint: disable=invalid-name

import os
import re

from ansible_collections.cow.storage.plugins.module_utils._errors import Refusal
from ansible_collections.cow.storage.plugins.module_utils._sizes import go_units_size


class Snapshotter:
    """A containerd snapshotter plugin whose table this module writes."""

    name = None
    plugin_type = "io.containerd.snapshotter.v1"

    @classmethod
    def plugin_id(cls):
        return "%s.%s" % (cls.plugin_type, cls.name)

    @classmethod
    def table_path(cls, version):
        return ["plugins", cls.plugin_id()] if version >= 2 else ["plugins", cls.name]

    @classmethod
    def check(cls, current, params):
        """Raise Refusal for inputs this snapshotter cannot take."""

    @classmethod
    def values(cls, params):
        """The table's owned keys -> desired values (None: leave that key alone)."""
        return {}

    @classmethod
    def same(cls, key, have, want):
        return have == want


class Devmapper(Snapshotter):
    """devmapper: thin devices in a device-mapper thin pool of containerd's own."""

    name = "devmapper"

    @classmethod
    def check(cls, current, params):
        if params["state"] != "present":
            return
        pool = params["pool_name"]
        if not pool:
            raise Refusal("pool_name: the devmapper snapshotter needs the thin pool's device-mapper name")
        if "/" in pool or not re.match(r"^[A-Za-z0-9_.+-]+$", pool):
            raise Refusal("pool_name: %r is not a device-mapper name (as listed in /dev/mapper/, e.g. containerd-thinpool; "
                          "cow.storage.thinpool returns it as thinpool.dm_path)" % pool)
        if params.get("root_path") and not os.path.isabs(params["root_path"]):
            raise Refusal("root_path: %r is not an absolute path" % params["root_path"])
        size = go_units_size(params["base_image_size"])
        if not size:
            raise Refusal("base_image_size: %r is not a size containerd understands (e.g. 10GB, 8192MB)" % params["base_image_size"])
        if params.get("fs_type") == "xfs" and current.get("major") == 1 and (current.get("minor") or 0) < 7:
            raise Refusal("fs_type: xfs needs containerd 1.7 or later (this host has %s)" % current.get("version"))
        pool_info = current.get("pool") or {}
        if pool_info.get("missing"):
            raise Refusal("pool_name: there is no device-mapper device %s (%s); create the thin pool first "
                          "(cow.storage.thinpool)" % (pool, pool_info.get("error") or "dmsetup found nothing"))
        if pool_info.get("target") != "thin-pool":
            raise Refusal("pool_name: %s is a %s device, not a thin-pool (once LVM makes thin volumes in its pool, the pool "
                          "becomes a linear device over %s-tpool); give containerd a thin pool of its own"
                          % (pool, pool_info.get("target") or "non-thin-pool", pool))
        if current.get("docker_pool") == pool:
            raise Refusal("pool_name: %s is Docker's devicemapper pool (dm.thinpooldev in %s); two owners of one pool destroy "
                          "each other's devices: give containerd a thin pool of its own"
                          % (pool, current.get("docker_config_path")))
        status = pool_info.get("status") or {}
        in_use = status.get("transaction_id") or status.get("data_used_blocks")
        configured = current.get("configured") or {}
        if in_use and configured.get("pool_name") == pool and current.get("root_path") != current.get("configured_root_path"):
            raise Refusal("root_path: containerd's metadata for the devices in %s is in %s; pointing root_path at %s hides every "
                          "snapshot in the pool (move metadata.db there by hand first, with containerd stopped)"
                          % (pool, current.get("configured_root_path"), current.get("root_path")))
        if in_use and not current.get("metadata_exists"):
            raise Refusal("pool_name: %s already holds thin devices (transaction id %s, %s data blocks used) and containerd has "
                          "no devmapper metadata in %s: the pool belongs to someone else; give containerd a thin pool of its own"
                          % (pool, status.get("transaction_id"), status.get("data_used_blocks"), current.get("root_path")))

    @classmethod
    def values(cls, params):
        wanted = {
            "pool_name": params["pool_name"],
            "root_path": params.get("root_path") or None,
            "base_image_size": params["base_image_size"],
            "discard_blocks": params["discard_blocks"],
            "async_remove": params.get("async_remove"),
            "fs_type": params.get("fs_type"),
        }
        return dict((k, v) for k, v in wanted.items() if v is not None)

    @classmethod
    def same(cls, key, have, want):
        if key == "base_image_size":
            return have is not None and go_units_size(have) == go_units_size(want)
        return have == want


SNAPSHOTTERS = {"devmapper": Devmapper}
