# -*- coding: utf-8 -*-
# Copyright: cow.storage contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""containerd: parsers of captured ctr output, the in-place TOML editor, the snapshotter planner and the host's
file writer (no mocks).

Fixtures in fixtures/containerd were captured on the Debian 12 VM lab host (containerd 1.6.20): its packaged
config.toml, ``containerd config default``, ``ctr plugins ls`` before and after configuration, and the detailed
error of the unconfigured devmapper plugin; the ``-2.1`` ones on a lab host with Debian unstable's containerd 2.1.9:
``containerd config default`` (version 3), ``containerd --version``, ``ctr plugins ls`` and the unconfigured devmapper
plugin (``skip``); config-debian-sid.toml is unstable's packaged config.toml (still version 2).
"""

from __future__ import annotations

import copy
import os

import pytest

from ansible_collections.cow.storage.plugins.module_utils._containerd import host as H
from ansible_collections.cow.storage.plugins.module_utils._containerd import parse as P
from ansible_collections.cow.storage.plugins.module_utils._containerd import plan as C
from ansible_collections.cow.storage.plugins.module_utils._containerd import toml_edit as T
from ansible_collections.cow.storage.tests.unit.conftest import fixture as _fixture

PLUGIN = ["plugins", "io.containerd.snapshotter.v1.devmapper"]
CRI = ["plugins", "io.containerd.grpc.v1.cri", "containerd"]


def fixture(name):
    """The text of tests/unit/fixtures/containerd/<name>."""
    return _fixture("containerd/" + name)


def params(**over):
    base = dict(snapshotter="devmapper", pool_name="containerd-thinpool", root_path=None, base_image_size="256MB",
                discard_blocks=True, async_remove=None, fs_type=None, default_snapshotter=True,
                config_path="/etc/containerd/config.toml", docker_config_path="/etc/docker/daemon.json",
                restart=True, backup=False, force=False, state="present")
    base.update(over)
    return base


def current(text=None, **over):
    text = fixture("config-debian12.toml") if text is None else text
    base = dict(config_path="/etc/containerd/config.toml", config_exists=True, config_text=text, doc=T.load_toml(text),
                version="1.6.20", major=1, minor=6, running=True, plugin_status="error", plugin_error="devmapper not configured",
                pool={"target": "thin-pool", "block_bytes": 131072,
                      "status": {"transaction_id": 0, "data_used_blocks": 0, "data_total_blocks": 7768}},
                configured={}, configured_root_path="/var/lib/containerd/io.containerd.snapshotter.v1.devmapper",
                root_path="/var/lib/containerd/io.containerd.snapshotter.v1.devmapper", metadata_exists=False,
                docker_config_path="/etc/docker/daemon.json", docker_pool=None)
    base.update(over)
    return base


# ---------------------------------------------------------------- parsers

def test_parse_plugins_captured():
    before = P.parse_plugins(fixture("plugins-ls-unconfigured.txt"))
    after = P.parse_plugins(fixture("plugins-ls-configured.txt"))
    assert before["io.containerd.snapshotter.v1/devmapper"] == "error"
    assert after["io.containerd.snapshotter.v1/devmapper"] == "ok"
    assert before["io.containerd.snapshotter.v1/overlayfs"] == "ok" and before["io.containerd.snapshotter.v1/zfs"] == "skip"
    assert "TYPE/ID" not in before


def test_parse_plugin_error_captured():
    assert P.parse_plugin_error(fixture("plugins-detailed-unconfigured.txt")) == "devmapper not configured"
    assert P.parse_plugin_error("Type: io.containerd.snapshotter.v1\nID: devmapper\n") is None


def test_parse_containerd_version_captured():
    assert P.parse_containerd_version(fixture("containerd-version.txt")) == "1.6.20"
    assert P.parse_containerd_version("containerd containerd.io v2.1.4 75cb2b7") == "2.1.4"
    assert P.parse_containerd_version("") is None


def test_split_and_format_keys():
    assert T.split_key('plugins."io.containerd.grpc.v1.cri".containerd') == ["plugins", "io.containerd.grpc.v1.cri", "containerd"]
    assert T.split_key("a . 'b.c' . d") == ["a", "b.c", "d"]
    assert T.format_key(["plugins", "io.containerd.snapshotter.v1.devmapper"]) == 'plugins."io.containerd.snapshotter.v1.devmapper"'
    with pytest.raises(ValueError):
        T.split_key('a."b')


# ---------------------------------------------------------------- the in-place editor

def test_set_table_keys_appends_a_missing_table_in_the_files_style():
    text = fixture("config-debian12.toml")
    new = T.set_table_keys(text, PLUGIN, {"pool_name": "p", "discard_blocks": True})
    assert new.startswith(text)
    assert new[len(text):] == '\n  [plugins."io.containerd.snapshotter.v1.devmapper"]\n    pool_name = "p"\n    discard_blocks = true\n'
    assert T.load_toml(new)["plugins"]["io.containerd.snapshotter.v1.devmapper"] == {"pool_name": "p", "discard_blocks": True}


def test_set_table_keys_replaces_only_owned_lines_and_keeps_comments():
    text = '# top\nversion = 2\n\n[plugins."io.containerd.snapshotter.v1.devmapper"]\n  # the pool\n  pool_name = "old"  # x\n' \
           '  fs_options = "-E nodiscard"\n\n[ttrpc]\n  address = ""\n'
    new = T.set_table_keys(text, PLUGIN, {"pool_name": "new", "base_image_size": "1GB"})
    assert new == '# top\nversion = 2\n\n[plugins."io.containerd.snapshotter.v1.devmapper"]\n  # the pool\n  pool_name = "new"\n' \
                  '  fs_options = "-E nodiscard"\n  base_image_size = "1GB"\n\n[ttrpc]\n  address = ""\n'
    removed = T.set_table_keys(new, PLUGIN, {"base_image_size": None})
    assert "base_image_size" not in removed and 'fs_options = "-E nodiscard"' in removed


def test_set_table_keys_in_the_default_config_changes_three_lines():
    text = fixture("config-default-1.6.toml")
    new = T.set_table_keys(text, PLUGIN, {"pool_name": "containerd-thinpool", "base_image_size": "256MB", "discard_blocks": True})
    changed = [(a, b) for a, b in zip(text.splitlines(), new.splitlines()) if a != b]
    assert len(text.splitlines()) == len(new.splitlines())
    assert changed == [('    base_image_size = ""', '    base_image_size = "256MB"'),
                       ('    discard_blocks = false', '    discard_blocks = true'),
                       ('    pool_name = ""', '    pool_name = "containerd-thinpool"')]


def test_remove_table_keeps_the_neighbours():
    text = fixture("config-debian12-configured.toml")
    new = T.remove_table(text, PLUGIN)
    doc = T.load_toml(new)
    assert "io.containerd.snapshotter.v1.devmapper" not in doc["plugins"]
    assert doc["plugins"]["io.containerd.grpc.v1.cri"]["containerd"]["snapshotter"] == "devmapper"
    assert doc["plugins"]["io.containerd.internal.v1.opt"] == {"path": "/var/lib/containerd/opt"}
    assert "\n\n\n" not in new


def test_edit_config_refuses_what_it_cannot_edit_in_place():
    inline = 'version = 2\n[plugins]\n  "io.containerd.snapshotter.v1.devmapper" = { pool_name = "x" }\n'
    with pytest.raises(C.Refusal, match=r"^config_path: /c.toml defines \[plugins\.\"io\.containerd\.snapshotter\.v1\.devmapper\"\] in a form"):
        T.edit_config(inline, T.load_toml(inline), [(PLUGIN, {"pool_name": "y"})], "/c.toml")


# ---------------------------------------------------------------- planner

def test_plan_configures_the_packaged_file_and_restarts():
    actions = C.plan(current(), params())
    assert [a.kind for a in actions] == ["write_config", "restart"]
    doc = T.load_toml(actions[0].args["text"])
    assert doc["plugins"]["io.containerd.snapshotter.v1.devmapper"] == {
        "pool_name": "containerd-thinpool", "base_image_size": "256MB", "discard_blocks": True}
    assert doc["plugins"]["io.containerd.grpc.v1.cri"]["containerd"]["snapshotter"] == "devmapper"
    assert doc["plugins"]["io.containerd.grpc.v1.cri"]["cni"]["bin_dir"] == "/usr/lib/cni"  # untouched
    assert 'pool_name: null -> "containerd-thinpool"' in actions[0].description


def test_plan_is_idempotent_on_the_configured_file():
    done = current(fixture("config-debian12-configured.toml"), plugin_status="ok", plugin_error=None)
    assert C.plan(done, params()) == []
    # the same size written another way is not a change
    assert C.plan(done, params(base_image_size="256M")) == []
    # configured but the plugin did not load (e.g. containerd not restarted yet): restart only
    assert [a.kind for a in C.plan(dict(done, plugin_status="error"), params())] == ["restart"]
    # containerd stopped: start it
    assert [a.kind for a in C.plan(dict(done, running=False, plugin_status=None), params())] == ["restart"]
    # restart=false writes only
    assert [a.kind for a in C.plan(current(), params(restart=False))] == ["write_config"]


def test_plan_new_file_gets_the_schema_of_the_containerd_version():
    new = current("", config_exists=False, doc={})
    actions = C.plan(new, params(default_snapshotter=False))
    assert T.load_toml(actions[0].args["text"]) == {"version": 2, "plugins": {"io.containerd.snapshotter.v1.devmapper": {
        "pool_name": "containerd-thinpool", "base_image_size": "256MB", "discard_blocks": True}}}
    two = C.plan(dict(new, version="2.1.4", major=2, minor=1), params())
    doc = T.load_toml(two[0].args["text"])
    assert doc["version"] == 3 and doc["plugins"]["io.containerd.cri.v1.images"]["snapshotter"] == "devmapper"


@pytest.mark.parametrize("state, over, message", [
    (dict(pool={"missing": True, "error": "Device does not exist."}), {}, "^pool_name: there is no device-mapper device containerd-thinpool"),
    ({}, dict(pool_name="/dev/mapper/x"), "^pool_name: '/dev/mapper/x' is not a device-mapper name"),
    (dict(pool={"target": "linear"}), {}, "^pool_name: containerd-thinpool is a linear device, not a thin-pool"),
    (dict(docker_pool="containerd-thinpool"), {}, "^pool_name: containerd-thinpool is Docker's devicemapper pool"),
    (dict(pool={"target": "thin-pool", "status": {"transaction_id": 3, "data_used_blocks": 900}}), {},
     "^pool_name: containerd-thinpool already holds thin devices"),
    (dict(pool={"target": "thin-pool", "status": {"transaction_id": 0, "data_used_blocks": 263}}, metadata_exists=True,
          configured={"pool_name": "containerd-thinpool"}, root_path="/srv/dm"), dict(root_path="/srv/dm"),
     "^root_path: containerd's metadata for the devices in containerd-thinpool is in /var/lib/containerd/"),
    ({}, dict(root_path="var/lib/x"), "^root_path: 'var/lib/x' is not an absolute path"),
    ({}, dict(base_image_size="lots"), "^base_image_size: 'lots' is not a size"),
    ({}, dict(fs_type="xfs"), "^fs_type: xfs needs containerd 1.7 or later"),
    (dict(config_error="Expected ']' (at line 2, column 9)"), {}, "^config_path: /etc/containerd/config.toml is not valid TOML"),
    (dict(doc={"plugins": {}}), {}, "^config_path: /etc/containerd/config.toml is a version 1 configuration"),
    (dict(version=None), {}, "^containerd is not installed"),
])
def test_plan_refusals_name_the_parameter(state, over, message):
    with pytest.raises(C.Refusal, match=message):
        C.plan(current(**state), params(**over))


def test_plan_pool_in_use_by_containerd_itself_is_fine():
    used = current(fixture("config-debian12-configured.toml"), plugin_status="ok", metadata_exists=True,
                   configured={"pool_name": "containerd-thinpool"},
                   pool={"target": "thin-pool", "status": {"transaction_id": 0, "data_used_blocks": 263}})
    assert C.plan(used, params()) == []


def test_plan_absent():
    done = current(fixture("config-debian12-configured.toml"), plugin_status="ok")
    with pytest.raises(C.Refusal, match=r"^force: containerd holds 11 devmapper snapshot\(s\) \(namespace cow: 11\)"):
        C.plan(dict(done, snapshots={"cow": 11}), params(state="absent"))
    actions = C.plan(dict(done, snapshots={"cow": 11}), params(state="absent", force=True))
    doc = T.load_toml(actions[0].args["text"])
    assert "io.containerd.snapshotter.v1.devmapper" not in doc["plugins"]
    assert "snapshotter" not in doc["plugins"]["io.containerd.grpc.v1.cri"]["containerd"]
    assert [a.kind for a in actions] == ["write_config", "restart"]
    assert C.plan(current(plugin_status="error"), params(state="absent")) == []


def test_plan_does_not_touch_the_parsed_document():
    state = current()
    doc = copy.deepcopy(state["doc"])
    C.plan(state, params())
    assert state["doc"] == doc


# ---------------------------------------------------------------- writing config.toml (the shared atomic write)

class _Module:
    """What ContainerdHost.write uses of AnsibleModule: atomic_move (a plain rename here)."""

    def __init__(self):
        self.moves = []

    def atomic_move(self, src, dest):
        self.moves.append(dest)
        os.rename(src, dest)


def test_write_is_atomic_keeps_mode_and_backs_up(tmp_path):
    path = tmp_path / "containerd" / "config.toml"
    module = _Module()
    host = H.ContainerdHost(module, None)
    assert host.write(str(path), "version = 2\n") is None  # a new file in a new directory
    assert path.read_text() == "version = 2\n" and (path.stat().st_mode & 0o777) == 0o644
    path.chmod(0o600)
    backup = host.write(str(path), "version = 3\n", backup=True)
    assert path.read_text() == "version = 3\n" and (path.stat().st_mode & 0o777) == 0o600
    assert backup and open(backup, encoding="utf-8").read() == "version = 2\n"
    assert module.moves == [str(path), str(path)]  # through atomic_move, so owner and SELinux context are kept
    assert sorted(os.listdir(str(path.parent))) == sorted(["config.toml", os.path.basename(backup)])  # no temporary file left


# ---------------------------------------------------------------- containerd 2.x: config version 3

CRI3 = ["plugins", "io.containerd.cri.v1.images"]


def current21(text=None, **over):
    text = fixture("config-default-2.1.toml") if text is None else text
    base = dict(version="2.1.9", major=2, minor=1, plugin_status="skip", plugin_error="devmapper not configured: skip plugin")
    base.update(over)
    return current(text, **base)


def test_captured_2_1_outputs():
    assert P.parse_containerd_version(fixture("containerd-version-2.1.txt")) == "2.1.9"
    plugins = P.parse_plugins(fixture("plugins-ls-2.1.txt"))
    assert plugins["io.containerd.snapshotter.v1/devmapper"] == "skip"
    assert plugins["io.containerd.snapshotter.v1/overlayfs"] == "ok" and plugins["io.containerd.snapshotter.v1/native"] == "ok"
    assert plugins["io.containerd.cri.v1/images"] == "ok"
    assert P.parse_plugin_error(fixture("plugins-detailed-2.1-devmapper-skip.txt")) == "devmapper not configured: skip plugin"
    # unstable still packages the version 2 file bookworm has
    assert fixture("config-debian-sid.toml") == fixture("config-debian12.toml")


def test_config_default_versions_and_cri_tables():
    v2, v3 = T.load_toml(fixture("config-default-1.6.toml")), T.load_toml(fixture("config-default-2.1.toml"))
    assert v2["version"] == 2 and v3["version"] == 3
    # containerd's own defaults name the CRI default snapshotter where cri_path says, and the devmapper table keeps its id
    for doc, version in ((v2, 2), (v3, 3)):
        table, key = C.cri_path(version)
        assert T._get(doc, table)[key] == "overlayfs"
        assert T._get(doc, C.SNAPSHOTTERS["devmapper"].table_path(version))["pool_name"] == ""
    assert T._get(v2, C.cri_path(3)[0]) is None and T._get(v3, C.cri_path(2)[0]) is None


@pytest.mark.parametrize("state, expected", [
    (dict(), 3),                                                    # the file's own version key
    (dict(text="", config_exists=False, doc={}), 3),               # a new file: containerd 2.x's version
    (dict(text="# nothing yet\n", doc={}), 3),                   # keys but no content: the same
    (dict(text="", config_exists=False, doc={}, major=1), 2),      # containerd 1.x's version
    (dict(text='[plugins.devmapper]\n  pool_name = "x"\n'), 1),   # keys without a version: a version 1 file
    (dict(text="version = 2\n"), 2),
])
def test_config_version(state, expected):
    text = state.pop("text", None)
    if text is not None and "doc" not in state:
        state["doc"] = T.load_toml(text)
    assert C.config_version(current21(text, **state)) == expected


def test_plan_version_3_default_config_changes_only_the_owned_lines():
    text = fixture("config-default-2.1.toml")
    actions = C.plan(current21(), params())
    assert [a.kind for a in actions] == ["write_config", "restart"]
    new = actions[0].args["text"]
    doc = T.load_toml(new)
    assert doc["version"] == 3
    assert doc["plugins"]["io.containerd.snapshotter.v1.devmapper"]["pool_name"] == "containerd-thinpool"
    assert doc["plugins"]["io.containerd.cri.v1.images"]["snapshotter"] == "devmapper"
    assert "io.containerd.grpc.v1.cri" not in doc["plugins"] or "containerd" not in doc["plugins"]["io.containerd.grpc.v1.cri"]
    changed = [(a, b) for a, b in zip(text.splitlines(), new.splitlines()) if a != b]
    assert len(text.splitlines()) == len(new.splitlines())
    assert changed == [("    snapshotter = 'overlayfs'", '    snapshotter = "devmapper"'),
                       ("    pool_name = ''", '    pool_name = "containerd-thinpool"'),
                       ("    base_image_size = ''", '    base_image_size = "256MB"'),
                       ("    discard_blocks = false", "    discard_blocks = true")]
    assert "CRI default snapshotter: \"overlayfs\" -> devmapper" in actions[0].description


def test_plan_version_3_is_idempotent_and_absent_restores_containerds_default():
    done_text = C.plan(current21(), params())[0].args["text"]
    done = current21(done_text, plugin_status="ok", plugin_error=None)
    assert C.plan(done, params()) == []
    actions = C.plan(done, params(state="absent"))
    doc = T.load_toml(actions[0].args["text"])
    assert "io.containerd.snapshotter.v1.devmapper" not in doc["plugins"]
    assert "snapshotter" not in doc["plugins"]["io.containerd.cri.v1.images"]
    assert doc["plugins"]["io.containerd.cri.v1.images"]["pinned_images"]["sandbox"] == "registry.k8s.io/pause:3.10"


def test_plan_version_2_file_on_containerd_2_keeps_its_own_names():
    # containerd 2.x reads a version 2 file and moves the CRI key itself: the module writes the file's own schema
    actions = C.plan(current21(fixture("config-debian-sid.toml")), params())
    doc = T.load_toml(actions[0].args["text"])
    assert doc["version"] == 2
    assert doc["plugins"]["io.containerd.grpc.v1.cri"]["containerd"]["snapshotter"] == "devmapper"
    assert "io.containerd.cri.v1.images" not in doc["plugins"]
    # the same plan as on containerd 1.6 with the same file
    assert actions[0].args["text"] == C.plan(current(fixture("config-debian12.toml")), params())[0].args["text"]


def test_plan_file_without_keys_gets_the_version_and_keeps_its_comments():
    text = "# managed by cow.storage\n"
    actions = C.plan(current21(text, doc={}), params())
    new = actions[0].args["text"]
    assert new.startswith("version = 3\n# managed by cow.storage\n")
    doc = T.load_toml(new)
    assert doc["version"] == 3 and doc["plugins"]["io.containerd.cri.v1.images"]["snapshotter"] == "devmapper"
    one = C.plan(current(text, doc={}), params(default_snapshotter=False))
    assert one[0].args["text"].startswith("version = 2\n# managed by cow.storage\n")


@pytest.mark.parametrize("text, over, message", [
    ("version = 3\n", dict(version="1.7.24", major=1, minor=7),
     r"^config_path: /etc/containerd/config.toml is a version 3 configuration, which containerd 1.7.24 does not read"),
    ("version = 4\n", {}, r"^config_path: /etc/containerd/config.toml has version = 4; this module writes versions 2"),
    ('version = "3"\n', {}, r'^config_path: /etc/containerd/config.toml has version = "3"'),
])
def test_plan_refuses_versions_containerd_does_not_read(text, over, message):
    with pytest.raises(C.Refusal, match=message):
        C.plan(current21(text, **over), params())
