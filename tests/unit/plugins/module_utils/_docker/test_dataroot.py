# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The data root as it is and as it will be: image stores on disk, hidden images, the data root's mount."""

from __future__ import annotations


import pytest

from ansible_collections.cow.storage.plugins.module_utils._docker import dataroot as dr
from ansible_collections.cow.storage.plugins.module_utils._errors import Refusal
from ansible_collections.cow.storage.plugins.module_utils._mountinfo import parse_mountinfo
from ansible_collections.cow.storage.tests.unit.conftest import fixture as captured

from ansible_collections.cow.storage.tests.unit.plugins.module_utils._docker.conftest import fixture


ID1 = "sha256:" + "1" * 64
ID2 = "sha256:" + "2" * 64
ID3 = "sha256:" + "3" * 64


def test_repositories_json_captured_from_20_10():
    tags = dr.parse_repositories(fixture("repositories-20.10.json"))
    assert sorted(tags) == ["cowtest:1", "cowtest:2"]
    assert all(v.startswith("sha256:") and len(v) == 71 for v in tags.values())


def test_repositories_leaves_digest_references_out():
    text = '{"Repositories": {"busybox": {"busybox:latest": "%s", "busybox@sha256:abc": "%s"}}}' % (ID1, ID1)
    assert dr.parse_repositories(text) == {"busybox:latest": ID1}
    assert dr.parse_repositories("") == {}


def test_images_of_lists_tags_and_untagged_images():
    store = {"ids": [ID1, ID2], "tags": {"a:1": ID1, "a:alias": ID1}}
    assert dr.images_of(store) == [{"name": "<none>:<none>", "id": ID2}, {"name": "a:1", "id": ID1},
                                   {"name": "a:alias", "id": ID1}]


def test_hidden_images_by_id_not_by_driver():
    stores = {"vfs": {"ids": [ID1, ID2], "tags": {"a:1": ID1, "a:2": ID2}},
              "overlay2": {"ids": [ID1], "tags": {"a:1": ID1}}}
    # a migrated image (same ID in overlay2's store) is not hidden; a:2 is
    assert dr.hidden_images(stores, "overlay2") == {"vfs": [{"name": "a:2", "id": ID2}]}
    assert dr.hidden_images(stores, "vfs") == {}
    # the containerd image store sees none of the graph drivers' images
    assert sorted(dr.hidden_images(stores, "overlayfs", "containerd")) == ["overlay2", "vfs"]
    assert dr.hidden_images({}, "overlay2") == {}


def test_hidden_containers_are_other_drivers():
    containers = [{"id": "c1", "name": "web", "driver": "vfs"}, {"id": "c2", "name": "db", "driver": "overlay2"}]
    assert dr.hidden_containers(containers, "overlay2") == [containers[0]]
    assert dr.hidden_containers(containers, "overlayfs", "containerd") == containers


def test_data_root_problems():
    assert dr.data_root_problems("/srv/docker", "overlay2", "/var/lib/docker", None) == []
    assert dr.data_root_problems("/srv/docker", "overlay2", "/var/lib/docker", "dir") == []
    assert "not a directory (file)" in dr.data_root_problems("/srv/docker", "vfs", "/var/lib/docker", "file")[0]
    assert "':' or ','" in dr.data_root_problems("/srv/dock:er", "overlay2", "/var/lib/docker", None)[0]
    assert dr.data_root_problems("/srv/dock:er", "vfs", "/var/lib/docker", None) == []
    inside = dr.data_root_problems("/var/lib/docker/overlay2/x", "overlay2", "/var/lib/docker", None)
    assert inside and "inside the current data root" in inside[0]
    assert dr.data_root_problems("/var/lib/docker2", "overlay2", "/var/lib/docker", None) == []


MOUNTINFO_ENTRY = {"mount_point": "/var/lib/docker", "source": "/dev/vdb", "fstype": "btrfs", "root": "/@docker"}


def test_mount_matches_device_type_and_subvolume():
    wanted = {"src": "/dev/disk/by-id/virtio-data1", "fstype": "btrfs", "opts": "subvol=@docker"}
    assert dr.mount_matches(MOUNTINFO_ENTRY, wanted, "/dev/vdb")
    assert not dr.mount_matches(MOUNTINFO_ENTRY, dict(wanted, opts="subvol=@other"), "/dev/vdb")
    assert not dr.mount_matches(MOUNTINFO_ENTRY, dict(wanted, fstype="xfs"), "/dev/vdb")
    assert not dr.mount_matches(MOUNTINFO_ENTRY, wanted, "/dev/vdc")
    assert not dr.mount_matches(None, wanted, "/dev/vdb")
    assert dr.mount_matches(dict(MOUNTINFO_ENTRY, fstype="xfs", root="/"), {"src": "/dev/vdb", "fstype": "xfs"}, "/dev/vdb")


def test_fstab_line_and_match():
    wanted = {"src": "/dev/vdb", "fstype": "xfs", "opts": "defaults,pquota"}
    line = dr.fstab_line(wanted, "/var/lib/my docker")
    assert line == "/dev/vdb /var/lib/my\\040docker xfs defaults,pquota 0 0\n"
    text = "# fstab\nproc /proc proc defaults 0 0\n" + line
    assert dr.fstab_matches(text, wanted, "/var/lib/my docker")
    assert not dr.fstab_matches(text, dict(wanted, opts="defaults"), "/var/lib/my docker")
    assert not dr.fstab_matches(text + line, wanted, "/var/lib/my docker")  # a duplicate is not "in place"
    assert not dr.fstab_matches("", wanted, "/var/lib/my docker")


def test_root_contents():
    assert dr.root_contents({}, {}, [], []) == {"images": [], "containers": [], "volumes": [], "driver_data": {}}
    full = dr.root_contents({"vfs": {"path": "/x/vfs", "layers": 2}, "overlay2": {"path": "/x/overlay2", "layers": 0}},
                            {"vfs": {"ids": [ID3], "tags": {}}}, [], ["data"])
    assert full["images"] == [{"name": "<none>:<none>", "id": ID3, "driver": "vfs"}]
    assert list(full["driver_data"]) == ["vfs"]


def test_mkfs_argv_gives_xfs_d_type_unless_told():
    assert dr.mkfs_argv("xfs", "", "/dev/vdb") == ["mkfs.xfs", "-n", "ftype=1", "/dev/vdb"]
    assert dr.mkfs_argv("xfs", "-L docker -n ftype=0", "/dev/vdb") == ["mkfs.xfs", "-L", "docker", "-n", "ftype=0", "/dev/vdb"]
    assert dr.mkfs_argv("ext4", "-L d", "/dev/vdb") == ["mkfs.ext4", "-L", "d", "/dev/vdb"]
    assert dr.mkfs_argv("btrfs", None, "/dev/vdb") == ["mkfs.btrfs", "/dev/vdb"]


def test_mkfs_d_type():
    assert dr.mkfs_d_type("xfs", "") is True
    assert dr.mkfs_d_type("xfs", "-n ftype=0") is False
    assert dr.mkfs_d_type("xfs", "-n ftype=0,size=4096") is False
    assert dr.mkfs_d_type("ext4", "") is True and dr.mkfs_d_type("f2fs", "") is None


def test_carries_only_exactly_that_filesystem():
    xfs = {"signatures": [{"type": "xfs", "offset": "0x0"}]}
    assert dr.carries(xfs, "xfs") and not dr.carries(xfs, "ext4")
    assert not dr.carries({"signatures": []}, "xfs")
    assert not dr.carries({"signatures": [{"type": "xfs"}, {"type": "gpt"}]}, "xfs")


@pytest.mark.parametrize("fstype,opts,word", [
    ("btrfs", "-f /dev/vdc", "-f"),            # the case: a force flag and a second device
    ("btrfs", "/dev/vdc", "/dev/vdc"),         # a positional device alone
    ("btrfs", "-L x /dev/vdc", "/dev/vdc"),    # after an allowed flag and its value
    ("btrfs", "-r /srv/root", "-r"),           # --rootdir copies a directory in
    ("btrfs", "--label=/dev/vdc", "/dev/vdc"),  # a path as the inline value
    ("ext4", "-F", "-F"),
    ("ext4", "-J device=/dev/vdc", "-J"),      # an external journal on another device
    ("ext4", "-d /etc", "-d"),                 # populate from a directory
    ("ext4", "vdc", "vdc"),                    # a positional word without a slash
    ("xfs", "-d name=/dev/vdc", "name"),       # a key that names a file
    ("xfs", "-f", "-f"),
    ("xfs", "-L", "-L"),                       # a flag without its value
])
def test_mkfs_opts_refuses_devices_paths_and_force(fstype, opts, word):
    with pytest.raises(Refusal) as exc:
        dr.mkfs_argv(fstype, opts, "/dev/vdd")
    assert str(exc.value).startswith("mount.mkfs_opts: ")
    assert word in str(exc.value)


@pytest.mark.parametrize("fstype,opts,argv", [
    ("btrfs", "-L docker -m single --csum=xxhash", ["-L", "docker", "-m", "single", "--csum=xxhash"]),
    ("xfs", "-m reflink=1,crc=1 -L d", ["-n", "ftype=1", "-m", "reflink=1,crc=1", "-L", "d"]),
    ("ext4", "-E lazy_itable_init=0,nodiscard -O ^has_journal", ["-E", "lazy_itable_init=0,nodiscard", "-O", "^has_journal"]),
    ("ext4", "'-L' 'my label'", ["-L", "my label"]),
])
def test_mkfs_opts_allowed(fstype, opts, argv):
    assert dr.mkfs_argv(fstype, opts, "/dev/vdd") == ["mkfs." + fstype] + argv + ["/dev/vdd"]


def test_mkfs_opts_unbalanced_quote_is_refused():
    with pytest.raises(Refusal) as exc:
        dr.parse_mkfs_opts("ext4", "-L 'x")
    assert "mount.mkfs_opts" in str(exc.value)
    assert dr.mkfs_d_type("xfs", "-L 'x") is None


def test_data_root_through_a_symlink_into_the_current_root_is_named_both_ways():
    problems = dr.data_root_problems("/var/lib/docker/sub", "vfs", "/var/lib/docker", "dir", given="/srv/link")
    assert problems == ["data_root: /srv/link (-> /var/lib/docker/sub) lies inside the current data root /var/lib/docker, "
                        "where the engine keeps its drivers' data"]


# --- boot: the data root after a reboot (mountinfo captured in a lab host: /dev/vdb xfs on /var/lib/docker) ------

LAB_MOUNTS = parse_mountinfo(captured("mounts/mountinfo_lab_host.txt"))
LAB_FSTAB = captured("mounts/fstab_lab_host.txt")


def test_boot_a_data_root_on_a_mount_fstab_does_not_bring_back():
    facts = dr.boot_facts(LAB_MOUNTS, LAB_FSTAB, "/var/lib/docker")
    assert facts == {"mount": {"mount_point": "/var/lib/docker", "source": "/dev/vdb", "fstype": "xfs", "opts": "defaults"},
                     "persisted": False, "volatile": None, "unmounted": []}
    persisted = LAB_FSTAB + "/dev/vdb /var/lib/docker xfs defaults 0 0\n"
    assert dr.boot_facts(LAB_MOUNTS, persisted, "/var/lib/docker")["persisted"] is True
    # on the root filesystem nothing depends on a mount
    assert dr.boot_facts(LAB_MOUNTS, LAB_FSTAB, "/srv/docker")["mount"] is None


def test_boot_an_fstab_mount_of_the_data_root_that_is_not_mounted():
    # the reboot: fstab puts vdc on /srv/data, the engine's data root lies under it, nothing is mounted there
    fstab = LAB_FSTAB + "/dev/vdc /srv/data ext4 defaults 0 0\n/dev/vdd /srv/other ext4 defaults 0 0\n/dev/vde /srv/data xfs noauto 0 0\n"
    facts = dr.boot_facts(LAB_MOUNTS, fstab, "/srv/data/docker")
    assert facts["unmounted"] == [{"source": "/dev/vdc", "mount_point": "/srv/data", "fstype": "ext4"}]


def test_boot_a_data_root_on_tmpfs_is_volatile():
    assert dr.boot_facts(LAB_MOUNTS, LAB_FSTAB, "/run/docker")["volatile"] == "tmpfs"


def test_boot_a_zfs_dataset_mounts_itself():
    mounts = LAB_MOUNTS + parse_mountinfo("300 76 0:90 / /var/lib/docker rw,relatime shared:9 - zfs tank/docker rw,xattr,noacl\n")
    facts = dr.boot_facts(mounts, LAB_FSTAB, "/var/lib/docker")
    assert facts["mount"]["fstype"] == "zfs" and facts["persisted"] is True
