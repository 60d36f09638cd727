# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The preflight report's lines for data out of the engine's view, interrupted changes and reboot risks, rendered
from results shaped as docker_storage_info and the backend role's check-mode plan return them."""

from __future__ import annotations

import os

import jinja2

TEMPLATES = os.path.join(os.path.dirname(__file__), "..", "..", "..", "playbooks", "templates")


def render(hostvars):
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), trim_blocks=True)
    return env.get_template("preflight_data.j2").render(ansible_play_hosts=sorted(hostvars), hostvars=hostvars)


def test_a_converged_host_gives_no_line():
    facts = {"storage": {"hidden": {"images": [], "containers": [], "driver_data": {}, "set_aside": []},
                         "interrupted_change": None, "engine_flags": {},
                         "boot": {"mount": {"mount_point": "/var/lib/docker", "source": "/dev/vdb"}, "persisted": True,
                                  "required_by_engine": True, "volatile": None, "unmounted": []}}}
    plan = {"storage": {"out_of_view": {"images": [], "containers": [], "volumes": []}}}
    assert render({"h1": {"__cow_pre_facts": facts, "__cow_pre_plan": plan}}).strip() == ""


def test_every_item_out_of_view_and_every_reboot_risk_is_a_line():
    facts = {"storage": {
        "hidden": {"images": [{"name": "cowtest:1", "id": "sha256:" + "a" * 64, "driver": "overlay2"}],
                   "containers": [{"name": "svc", "driver": "overlay2"}],
                   "driver_data": {"vfs": {"path": "/var/lib/docker/vfs", "size": 10}}, "set_aside": ["/var/lib/docker.cow-storage-old"]},
        "interrupted_change": "docker_storage_backend change started …; still to do: restart",
        "engine_flags": {"storage-driver": [{"flag": "--storage-driver", "value": "vfs", "source": "/etc/default/docker:12"}]},
        "boot": {"mount": None, "persisted": True, "volatile": None, "required_by_engine": False,
                 "unmounted": [{"source": "/dev/vdb", "mount_point": "/var/lib/docker", "fstype": "xfs"}]}}}
    plan = {"storage": {"out_of_view": {
        "images": [], "volumes": [{"name": "probevol", "fate": "deleted", "where": None}],
        "containers": [{"name": "bound", "fate": "hidden", "where": "/var/lib/docker.cow-storage-old/containers/c3af"}]}}}
    lines = render({"h1": {"__cow_pre_facts": facts, "__cow_pre_plan": plan}}).strip().splitlines()
    assert lines == [
        "INTERRUPTED h1: docker_storage_backend change started …; still to do: restart (the next converge finishes it)",
        "HIDDEN h1: image cowtest:1 sha256:aaaaaaaaaaaa in overlay2's store, not visible to the engine",
        "HIDDEN h1: container svc made by overlay2, not visible to the engine",
        "HIDDEN h1: vfs driver data at /var/lib/docker/vfs (10 bytes)",
        "HIDDEN h1: earlier data root content set aside at /var/lib/docker.cow-storage-old",
        "WOULD HIDE h1: container bound -> /var/lib/docker.cow-storage-old/containers/c3af",
        "WOULD DELETE h1: volume probevol",
        "REBOOT h1: fstab mounts /dev/vdb on /var/lib/docker, which is not mounted: the engine sees the bare directory",
        "FLAG h1: /etc/default/docker:12 sets --storage-driver vfs (storage-driver) outside daemon.json",
    ]


def test_a_mount_fstab_would_not_bring_back_is_a_reboot_line():
    facts = {"storage": {"boot": {"mount": {"mount_point": "/srv/d", "source": "/dev/vdd"}, "persisted": False,
                                  "required_by_engine": False, "volatile": None, "unmounted": []}}}
    assert render({"h2": {"__cow_pre_facts": facts}}).strip() == (
        "REBOOT h2: the data root's mount (/dev/vdd on /srv/d) is not in fstab; a converge persists it")


def test_daemon_json_rewritten_by_another_tool_is_a_drift_line():
    drift = {"keys": {"storage-driver": ["vfs", None], "data-root": ["/srv/docker", None]}, "since": 0,
             "then": {"driver": "vfs", "data_root": "/srv/docker"}, "now": {"driver": "overlay2", "data_root": "/var/lib/docker"}}
    assert render({"h3": {"__cow_pre_facts": {"storage": {"drift": drift}}}}).strip() == (
        "DRIFT h3: daemon.json's data-root, storage-driver changed outside cow.storage since it converged the host "
        "(was vfs on /srv/docker, now overlay2 on /var/lib/docker); a converge writes them back")
