# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Parsers of engine and kernel storage facts, against output captured from real tools."""

from __future__ import annotations

import json

from ansible_collections.cow.storage.plugins.module_utils._docker import parse as dpa
from ansible_collections.cow.storage.tests.unit.plugins.module_utils._docker.conftest import fixture


def test_docker_info_overlay2_on_ext4():
    facts = dpa.parse_docker_info(fixture("info-20.10-overlay2.json"))
    assert facts["version"] == "20.10.24+dfsg1"
    assert facts["driver"] == "overlay2"
    assert facts["image_store"] == "graphdriver"
    assert facts["backing_filesystem"] == "extfs"
    assert facts["d_type"] is True
    assert facts["data_root"].endswith("/engine/data")
    assert facts["containers"] == 3


def test_docker_info_containerd_snapshotter_is_recognised():
    info = json.loads(fixture("info-20.10-overlay2.json"))
    info["Driver"] = "overlayfs"
    info["DriverStatus"] = [["driver-type", "io.containerd.snapshotter.v1"]]
    facts = dpa.parse_docker_info(json.dumps(info))
    assert facts["image_store"] == "containerd"
    assert facts["d_type"] is None
    assert facts["backing_filesystem"] is None


def test_docker_info_without_a_server_has_no_version():
    facts = dpa.parse_docker_info(fixture("info-no-server.json"))
    assert facts["version"] is None
    assert facts["running"] is False


def test_proc_filesystems():
    names = dpa.parse_proc_filesystems(fixture("proc-filesystems.txt"))
    for fs in ("overlay", "btrfs", "xfs", "ext4", "tmpfs"):
        assert fs in names
    assert "nodev" not in names
    assert names == sorted(names)


def test_blkid_export():
    ids = dpa.parse_blkid_export(fixture("blkid-btrfs.txt"))
    assert ids["TYPE"] == "btrfs"
    assert ids["DEVNAME"] == "/dev/vdb"
    assert len(ids["UUID"]) == 36


# The engine API and the CLI, captured from the same Docker 20.10 engine at the same moment (tags, an alias tag,
# a dangling image; running, created and exited containers): both readings give the same facts.
def test_api_info_gives_the_facts_of_cli_info():
    assert dpa.parse_docker_info(fixture("api-info-20.10-vfs.json")) == dpa.parse_docker_info(fixture("info-20.10-vfs-same-engine.json"))
    assert dpa.parse_docker_info(fixture("api-info-20.10-vfs.json"))["driver"] == "vfs"


def test_api_images_list_like_image_ls():
    images = dpa.images_from_api(fixture("api-images-20.10.json"))
    assert images == dpa.images_from_ls(fixture("image-ls-20.10-same-engine.jsonl"))
    names = [i["name"] for i in images]
    assert names == ["<none>:<none>", "cow-storage-verify:1", "cowtest:1", "cowtest:2", "cowtest:alias", "cowtest:old"]
    assert all(i["id"].startswith("sha256:") and len(i["id"]) == 71 for i in images)


def test_api_containers_list_like_ps_a():
    containers = dpa.containers_from_api(fixture("api-containers-20.10.json"))
    assert containers == dpa.containers_from_ps(fixture("ps-a-20.10-same-engine.jsonl"))
    assert [(c["name"], c["state"], c["image"]) for c in containers] == [
        ("c1", "running", "cowtest:1"), ("c2", "created", "cowtest:2"), ("c3", "exited", "cowtest:alias")]


def test_api_images_known_by_digest_only_and_registry_ports():
    # Rows as the docker CLI (cli/command/formatter/image.go) builds them: one per tag; a repository known by
    # digest only gets tag <none>; a registry port is part of the repository.
    text = json.dumps([
        {"Id": "sha256:a", "RepoTags": ["localhost:5000/app:1.2"], "RepoDigests": ["localhost:5000/app@sha256:d1"]},
        {"Id": "sha256:b", "RepoTags": None, "RepoDigests": ["busybox@sha256:d2"]},
        {"Id": "sha256:c", "RepoTags": [], "RepoDigests": []},
    ])
    assert dpa.images_from_api(text) == [
        {"name": "<none>:<none>", "id": "sha256:c"},
        {"name": "busybox:<none>", "id": "sha256:b"},
        {"name": "localhost:5000/app:1.2", "id": "sha256:a"},
    ]


def test_api_container_names_leave_link_aliases_out():
    text = json.dumps([{"Id": "x", "Names": ["/web", "/db/web-alias"], "State": "running", "Image": "nginx"}])
    assert dpa.containers_from_api(text) == [{"name": "web", "id": "x", "state": "running", "image": "nginx"}]


def test_engine_error_from_the_journal_is_dockerds_own_line():
    # captured on a lab host (Debian docker.io 20.10) after a start with overlay2.override_kernel_check=maybe
    text = fixture("journal-20.10-parsebool.json")
    assert dpa.engine_error_from_journal_json(text) == (
        'failed to start daemon: error initializing graphdriver: strconv.ParseBool: parsing "maybe": invalid syntax')
    assert dpa.engine_error_from_journal_json("") is None


def test_rejected_key_named_by_the_engine():
    assert dpa.rejected_key("unable to configure the Docker daemon with file /etc/docker/daemon.json: the following "
                            "directives don't match any configuration option: bogus-key") == "bogus-key"
    assert dpa.rejected_key("failed to start daemon: error initializing graphdriver: driver not supported") is None
    assert dpa.rejected_key(None) is None


def test_container_from_config():
    text = '{"ID": "3f2a", "Name": "/web", "Driver": "vfs", "State": {"Running": false}}'
    assert dpa.container_from_config(text) == {"id": "3f2a", "name": "web", "driver": "vfs"}


# --- engine configuration outside daemon.json (Debian's docker.io 20.10 unit and /etc/default/docker, captured) ------

UNIT = ("/lib/systemd/system/docker.service", fixture("docker.service-20.10.txt"))
DEFAULT = fixture("default-docker-20.10.txt")


def test_debian_unit_reads_docker_opts_from_etc_default():
    service = dpa.parse_unit_service([UNIT])
    assert service["exec_start"][2] == "/usr/sbin/dockerd -H fd:// --containerd=/run/containerd/containerd.sock $DOCKER_OPTS"
    assert service["environment_files"] == [("/etc/default/docker", True, "/lib/systemd/system/docker.service:13")]
    # as shipped: every line commented, no flag
    assert dpa.engine_flags(service, {"/etc/default/docker": DEFAULT}) == {}
    lines = len(DEFAULT.splitlines())
    opts = DEFAULT + 'DOCKER_OPTS="--storage-driver=vfs -g /srv/old"\n'
    assert dpa.engine_flags(service, {"/etc/default/docker": opts}) == {
        "storage-driver": [{"value": "vfs", "flag": "--storage-driver", "source": "/etc/default/docker:%d" % (lines + 1)}],
        "data-root": [{"value": "/srv/old", "flag": "-g", "source": "/etc/default/docker:%d" % (lines + 1)}]}


def test_a_drop_in_replacing_exec_start_is_the_command():
    dropin = ("/etc/systemd/system/docker.service.d/override.conf",
              "[Service]\nExecStart=\nExecStart=/usr/sbin/dockerd -H fd:// \\\n    --data-root /srv/docker --storage-opt overlay2.size=1G\n")
    service = dpa.parse_unit_service([UNIT, dropin])
    flags = dpa.engine_flags(service, {})
    assert flags == {"data-root": [{"value": "/srv/docker", "flag": "--data-root", "source": dropin[0] + ":3"}],
                     "storage-opts": [{"value": "overlay2.size=1G", "flag": "--storage-opt", "source": dropin[0] + ":3"}]}
    # Environment= in a drop-in, ${VAR} is one word
    env = ("/etc/systemd/system/docker.service.d/env.conf", '[Service]\nEnvironment="DOCKER_OPTS=-s btrfs"\n')
    assert dpa.engine_flags(dpa.parse_unit_service([UNIT, env]), {})["storage-driver"] == [
        {"value": "btrfs", "flag": "-s", "source": env[0] + ":2"}]


def test_the_observation_record_names_every_key_observe_returns_and_the_tests_build():
    # one typed record of a Docker host: Host.observe returns exactly its keys, and the tests' host() uses no other
    import ast
    import inspect

    from ansible_collections.cow.storage.plugins.module_utils._docker import host as dh
    from ansible_collections.cow.storage.tests.unit.plugins.module_utils._docker.conftest import host

    keys = set(dh.Observation.__annotations__)
    tree = ast.parse(inspect.getsource(dh.Host.observe).strip().replace("\n    ", "\n"))
    built = [n for n in ast.walk(tree) if isinstance(n, ast.Call) and getattr(n.func, "id", None) == "Observation"]
    assert len(built) == 1
    returned = set(k.arg for k in built[0].keywords)
    assert returned == keys
    assert set(host()) - keys == set()
