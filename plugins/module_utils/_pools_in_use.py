# -*- coding: utf-8 -*-
# Copyright: cow.storage contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The thin pools the container engines are configured to use, read from their configuration files: Docker's
daemon.json (``dm.thinpooldev``) and containerd's config.toml (the devmapper snapshotter's ``pool_name``). ``thinpool``
reads it before it removes or reshapes a pool; ``containerd_snapshotter`` before it gives containerd a pool (never
Docker's). Its own module, shared by both families."""

from __future__ import annotations

__metaclass__ = type  # pylint: disable=invalid-name

import json

from ansible_collections.cow.storage.plugins.module_utils._containerd.snapshotters import Devmapper
from ansible_collections.cow.storage.plugins.module_utils._containerd.toml_edit import _get, format_key, load_toml
from ansible_collections.cow.storage.plugins.module_utils._docker.drivers import options_dict
from ansible_collections.cow.storage.plugins.module_utils._files import read_text
from ansible_collections.cow.storage.plugins.module_utils._lvm import dm_name

DOCKER_CONFIG_PATH = "/etc/docker/daemon.json"
CONTAINERD_CONFIG_PATH = "/etc/containerd/config.toml"


def dm_pool_name(ref):
    """A thin pool as an engine names it -> its device-mapper name: ``/dev/mapper/docker-thinpool`` and
    ``/dev/docker/thinpool`` (LVM's ``/dev/<vg>/<lv>`` link, dashes doubled as device-mapper does) give
    ``docker-thinpool``; a bare name is kept. None for an empty reference."""
    ref = (ref or "").strip()
    if not ref:
        return None
    parts = [p for p in ref.split("/") if p]
    if len(parts) == 3 and parts[0] == "dev" and parts[1] != "mapper":
        return dm_name(parts[1], parts[2])
    return parts[-1] if parts else None


def thin_pool_of_docker(daemon_json_text):
    """The device-mapper name of Docker's devicemapper pool (``dm.thinpooldev``) in daemon.json text, or None."""
    users, dummy = pools_in_use(daemon_json_text, None)
    return users[0]["pool"] if users else None


def pools_in_use(docker_text, containerd_text, docker_path=DOCKER_CONFIG_PATH, containerd_path=CONTAINERD_CONFIG_PATH):
    """Thin pools the container engines are configured to use, from the text of Docker's daemon.json
    (``dm.thinpooldev`` in ``storage-opts``) and of containerd's config.toml (the devmapper snapshotter's
    ``pool_name``); None or "" for a missing file.

    Returns ``(users, errors)``: users ``[{"pool": dm name, "engine", "path", "key"}]``; errors name the file's
    parameter (``docker_config_path``/``containerd_config_path``) when a file cannot be parsed, so a caller about to
    destroy a pool knows it cannot tell. Pure."""
    users, errors = [], []
    if (docker_text or "").strip():
        try:
            config = json.loads(docker_text)
        except ValueError as exc:
            config = None
            errors.append("docker_config_path: %s is not valid JSON (%s)" % (docker_path, exc))
        if config is not None and not isinstance(config, dict):
            errors.append("docker_config_path: %s is not a JSON object" % docker_path)
        elif config is not None:
            ref = options_dict(config.get("storage-opts") if isinstance(config.get("storage-opts"), list) else []).get("dm.thinpooldev")
            if dm_pool_name(ref):
                users.append({"pool": dm_pool_name(ref), "engine": "Docker", "path": docker_path, "key": "storage-opts dm.thinpooldev"})
    if (containerd_text or "").strip():
        try:
            doc = load_toml(containerd_text)
        except ValueError as exc:
            doc = None
            errors.append("containerd_config_path: %s is not valid TOML (%s)" % (containerd_path, exc))
        if doc is not None:
            try:
                version = int(doc.get("version", 1))
            except (TypeError, ValueError):
                version = 2
            # the table containerd reads: [plugins.devmapper] in a version 1 file, the plugin's id in 2 and 3
            table = Devmapper.table_path(version)
            name = (_get(doc, table) or {}).get("pool_name")
            if isinstance(name, str) and dm_pool_name(name):
                users.append({"pool": dm_pool_name(name), "engine": "containerd", "path": containerd_path,
                              "key": "[%s] pool_name" % format_key(table)})
    return users, errors


def read_pools_in_use(docker_path=DOCKER_CONFIG_PATH, containerd_path=CONTAINERD_CONFIG_PATH):
    """:func:`pools_in_use` of the files on this host (a missing file uses nothing; an unreadable one is an error)."""
    texts, errors = {}, []
    for param, path in (("docker_config_path", docker_path), ("containerd_config_path", containerd_path)):
        if not path:
            continue
        try:
            texts[param] = read_text(path, missing_ok=True)
        except (IOError, OSError) as exc:
            errors.append("%s: cannot read %s (%s)" % (param, path, exc.strerror or exc))
    users, parse_errors = pools_in_use(texts.get("docker_config_path"), texts.get("containerd_config_path"), docker_path, containerd_path)
    return users, errors + parse_errors
