# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the Docker family's tests share: captured fixtures (tests/unit/fixtures/docker), a host as the observer
returns it (``host()``, built from output captured on the lab hosts), the module's parameters with their defaults
(``params()``).

Test modules import these by name (``from ansible_collections.cow.storage.tests.unit.plugins.module_utils._docker.conftest
import host, params``), the name that resolves both under plain pytest and under ansible-test units."""

from __future__ import annotations

from ansible_collections.cow.storage.plugins.module_utils._docker import parse as dpa
from ansible_collections.cow.storage.tests.unit.conftest import fixture as _fixture

__metaclass__ = type  # pylint: disable=invalid-name


def fixture(name):
    """The text of tests/unit/fixtures/docker/<name>."""
    return _fixture("docker/" + name)


FILESYSTEMS = dpa.parse_proc_filesystems(fixture("proc-filesystems.txt"))


def host(info="info-20.10-vfs-lab.json", backing="ext4", config=None, **extra):
    engine = dpa.parse_docker_info(fixture(info)) if info else {"running": False}
    out = {
        "version": engine.get("version") or "20.10.24+dfsg1",
        "engine": engine,
        "filesystems": FILESYSTEMS,
        "backing_fs": backing,
        "mount_options": ["rw", "relatime"],
        "d_type": True,
        "binaries": {"fuse-overlayfs": True, "zfs": False},
        "thinpool": None,
        "prior": {},
        "config": {"storage-driver": engine.get("driver") or "vfs"} if config is None else config,
        "config_text": "",
        "data_root": "/var/lib/docker",
        "images": [],
        "containers": [],
    }
    out.update(extra)
    return out


def params(**kw):
    out = {"driver": "overlay2", "image_store": "graphdriver", "options": None, "data_root": None,
           "config_path": "/etc/docker/daemon.json", "on_driver_change": "fail", "stop_containers": False,
           "force": False, "restart": True, "validate": True}
    out.update(kw)
    return out


IMAGES = dpa.images_from_ls(fixture("image-ls-20.10.jsonl"))
CONTAINERS = dpa.containers_from_ps(fixture("ps-a-20.10.jsonl"))


def kinds(actions):
    return [a.kind for a in actions]
