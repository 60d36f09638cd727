# -*- coding: utf-8 -*-
# Copyright: cow.storage contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Mount table and fstab parsers and look-ups of _mountinfo, against mountinfo and fstab captured
from real hosts (tests/unit/fixtures/mounts, tests/unit/fixtures/btrfs)."""

from __future__ import annotations

from ansible_collections.cow.storage.tests.unit.conftest import fixture

from ansible_collections.cow.storage.plugins.module_utils import _mountinfo as m

__metaclass__ = type  # pylint: disable=invalid-name

T = "/tmp/ovlcap/fs"


# ------------------------------------------------------------------ mountinfo


def test_mountinfo_fields():
    mounts = m.parse_mountinfo(fixture("mounts/mountinfo_overlays.txt"))
    xfs = m.find_mount(mounts, T)
    assert xfs["fstype"] == "xfs" and "lower" not in xfs
    ovl = m.find_mount(mounts, T + "/mnt sp")
    assert ovl["fstype"] == "overlay" and ovl["mount_options"] == ["rw", "noatime"]
    assert "lowerdir=" + T + "/with space:" + T + "/l\\:colon" in ovl["super_options"]
    assert "lower" not in ovl  # layers are _overlay's business
    assert m.find_mount(mounts, "/nowhere") is None


def test_containing_mount():
    mounts = m.parse_mountinfo(fixture("mounts/mountinfo_overlays.txt"))
    assert m.containing_mount(mounts, T + "/m1/x")["mount_point"] == T + "/m1"
    assert m.containing_mount(mounts, "/var/tmp")["mount_point"] == "/"
    mounts = m.parse_mountinfo(fixture("btrfs/mountinfo.txt"))
    top = m.containing_mount(mounts, "/tmp/bsvmnt/sv1/nested")
    assert top["fstype"] == "btrfs" and top["mount_point"] == "/tmp/bsvmnt" and top["devno"] == "0:39"
    assert "subvolid=5" in top["super_options"]
    sub = m.containing_mount(mounts, "/tmp/bsvsub")
    assert sub["root"] == "/sv1" and "subvolid=256" in sub["super_options"]
    assert m.containing_mount(mounts, "/tmp/bsvmntx")["fstype"] == "ext4"
    assert m.containing_mount(mounts, "/var/tmp")["mount_point"] == "/"


def test_mountinfo_escapes_and_overmount():
    text = ("30 1 0:40 / /mnt/a\\040b rw - btrfs /dev/sdb rw,subvolid=5,subvol=/\n"
            "31 30 0:41 / /mnt/a\\040b rw - tmpfs tmpfs rw\n")
    mounts = m.parse_mountinfo(text)
    assert mounts[0]["mount_point"] == "/mnt/a b"
    assert m.containing_mount(mounts, "/mnt/a b/x")["fstype"] == "tmpfs"


def test_stacked_mounts_last_wins():
    text = ("1 0 8:1 / /srv rw - xfs /dev/vdb rw\n"
            "2 1 0:40 / /srv rw - overlay overlay rw,lowerdir=/a:/b\n")
    assert m.find_mount(m.parse_mountinfo(text), "/srv/")["fstype"] == "overlay"


# ------------------------------------------------------------------ fstab


def test_fstab_fields_are_unescaped():
    entry = m.parse_fstab(fixture("mounts/fstab_escaped.txt"))[0][1]
    assert entry["mount_point"] == T + "/m8" and entry["fstype"] == "overlay"
    assert entry["options"][0] == "lowerdir=" + T + "/with space:" + T + "/l\\:colon:" + T + "/l2"
    assert "lower" not in entry


def test_fstab_round_trip_is_byte_identical():
    for name in ("fstab_debian.txt", "fstab_no_newline.txt", "fstab_escaped.txt"):
        text = fixture("mounts/" + name)
        assert "".join(line for line, _e in m.parse_fstab(text)) == text


def test_fstab_tabs_and_comments():
    parsed = m.parse_fstab(fixture("mounts/fstab_debian.txt"))
    entries = [e for _l, e in parsed if e]
    assert [e["mount_point"] for e in entries] == ["/", "/srv/a", "/srv/b", "/srv/merged", "none"]
    assert m.find_fstab_entries(parsed, ["/srv/merged/", "/srv/b"]) == entries[2:4]


def test_update_fstab_replace_remove_append():
    text = fixture("mounts/fstab_debian.txt")
    lines = text.splitlines(True)
    new = m.update_fstab(text, ["/srv/merged"], "overlay /srv/merged overlay lowerdir=/x:/y 0 0\n")
    assert new.splitlines(True) == lines[:10] + ["overlay /srv/merged overlay lowerdir=/x:/y 0 0\n"] + lines[11:]
    gone = m.update_fstab(text, ["/srv/merged"], None)
    assert gone.splitlines(True) == lines[:10] + lines[11:]
    added = m.update_fstab(fixture("mounts/fstab_no_newline.txt"), ["/srv/o"], "overlay /srv/o overlay lowerdir=/x:/y 0 0\n")
    assert added == fixture("mounts/fstab_no_newline.txt") + "\noverlay /srv/o overlay lowerdir=/x:/y 0 0\n"
    assert m.update_fstab("", ["/srv/o"], "L\n") == "L\n"


def test_update_fstab_drops_duplicates():
    text = "a /x overlay lowerdir=/1:/2 0 0\n# keep\nb /x overlay lowerdir=/3:/4 0 0\n"
    assert m.update_fstab(text, ["/x"], "new\n") == "new\n# keep\n"


def test_update_fstab_keeps_undecodable_bytes():
    text = b"/dev/vdb /caf\xe9 xfs defaults 0 0\n".decode("utf-8", "surrogateescape")
    out = m.update_fstab(text, ["/o"], "overlay /o overlay lowerdir=/a:/b 0 0\n")
    assert out.encode("utf-8", "surrogateescape").startswith(b"/dev/vdb /caf\xe9 xfs")
