# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""An image's identity across image stores (the config digest), from containerd's content store blobs."""

from __future__ import annotations

import json

from ansible_collections.cow.storage.plugins.module_utils._docker.parse import image_identity

__metaclass__ = type  # pylint: disable=invalid-name

CONFIG = "sha256:" + "c" * 64
MANIFEST = "sha256:" + "m" * 64
ARM = "sha256:" + "a" * 64
INDEX = "sha256:" + "i" * 64
BLOBS = {
    MANIFEST: json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                          "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": CONFIG, "size": 1},
                          "layers": []}),
    ARM: json.dumps({"schemaVersion": 2, "config": {"digest": "sha256:" + "x" * 64}, "layers": []}),
    INDEX: json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": [
        {"digest": ARM, "platform": {"architecture": "arm64", "os": "linux"}},
        {"digest": MANIFEST, "platform": {"architecture": "amd64", "os": "linux"}}]}),
    CONFIG: json.dumps({"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": []}}),
}


def test_a_manifest_id_is_known_by_its_config():
    assert image_identity(MANIFEST, BLOBS.get) == CONFIG


def test_an_index_id_goes_through_this_architecture_s_manifest():
    assert image_identity(INDEX, BLOBS.get) == CONFIG
    assert image_identity(INDEX, BLOBS.get, arch="arm64") == "sha256:" + "x" * 64


def test_a_graph_driver_id_is_its_own_identity():
    assert image_identity(CONFIG, BLOBS.get) == CONFIG       # the config blob itself (no "config" key)
    assert image_identity(CONFIG, lambda d: None) == CONFIG  # not in containerd's content store at all
    assert image_identity(CONFIG, lambda d: "not json") == CONFIG
