# -*- coding: utf-8 -*-
# Copyright: cow.storage contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Overlay layers and options of _overlay, against mountinfo and fstab captured from real
overlay mounts (Debian 12, kernel 6.18, util-linux 2.38.1; see tests/unit/fixtures/mounts)."""

from __future__ import annotations

import pytest
from ansible_collections.cow.storage.tests.unit.conftest import fixture

from ansible_collections.cow.storage.plugins.module_utils import _overlay as m
from ansible_collections.cow.storage.plugins.module_utils._mountinfo import find_mount

__metaclass__ = type  # pylint: disable=invalid-name

T = "/tmp/ovlcap/fs"
DEFAULTS = m.kernel_defaults_from_params({"index": "N\n", "metacopy": "N\n", "nfs_export": "N\n",
                                          "redirect_dir": "N\n", "redirect_always_follow": "Y\n"})


@pytest.fixture(name="mounts")
def mounts_fixture():
    return m.overlay_mountinfo(fixture("mounts/mountinfo_overlays.txt"))


def at(mounts, path):
    return find_mount(mounts, path)


# ------------------------------------------------------------------ mountinfo


def test_several_lowers_in_kernel_order(mounts):
    ovl = at(mounts, T + "/m1")
    assert ovl["fstype"] == "overlay"
    assert ovl["lower"] == [T + "/l1", T + "/l2", T + "/l3"]
    assert ovl["upper"] == T + "/up"
    assert ovl["work"] == T + "/wk"
    assert ovl["overlay_options"] == ["rw", "uuid=on"]
    assert ovl["mount_options"] == ["rw", "relatime"]


def test_read_only_overlay_has_no_upper(mounts):
    ovl = at(mounts, T + "/m2")
    assert ovl["lower"] == [T + "/l1", T + "/l2"]
    assert ovl["upper"] is None and ovl["work"] is None
    assert "ro" in ovl["overlay_options"]


def test_octal_and_overlay_escapes(mounts):
    ovl = at(mounts, T + "/mnt sp")
    assert ovl["mount_point"] == T + "/mnt sp"
    assert ovl["lower"] == [T + "/with space", T + "/l:colon"]
    assert ovl["mount_options"] == ["rw", "noatime"]
    colon = at(mounts, T + "/m3")
    assert colon["upper"] == T + "/u:c"
    assert colon["work"] == T + "/w:c"
    comma = at(mounts, T + "/m4")
    assert comma["lower"] == [T + "/c,omma", T + "/l1"]


def test_options_and_flags_as_reported(mounts):
    ovl = at(mounts, T + "/m5")
    assert ovl["mount_options"] == ["rw", "nodev", "noatime"]
    assert "index=on" in ovl["overlay_options"] and "metacopy=on" in ovl["overlay_options"]
    vol = at(mounts, T + "/m6")
    assert "fsync=volatile" in vol["overlay_options"] and "userxattr" in vol["overlay_options"]


def test_symlinked_lower_is_reported_as_given(mounts):
    assert at(mounts, T + "/m7")["lower"][0] == T + "/lsym"


def test_non_overlay_and_missing(mounts):
    assert at(mounts, T)["fstype"] == "xfs"
    assert "lower" not in at(mounts, T)
    assert at(mounts, "/nowhere") is None


# ------------------------------------------------------------------ fstab


def test_fstab_escaped_entry_parses_like_mountinfo():
    entry = m.overlay_fstab(fixture("mounts/fstab_escaped.txt"))[0][1]
    assert entry["mount_point"] == T + "/m8"
    assert entry["lower"] == [T + "/with space", T + "/l:colon", T + "/l2"]
    assert entry["overlay_options"] == ["noatime", "x-systemd.requires-mounts-for=" + T + "/with space"]


def test_fstab_tabs_and_comments():
    parsed = m.overlay_fstab(fixture("mounts/fstab_debian.txt"))
    entries = [e for _l, e in parsed if e]
    assert [e["mount_point"] for e in entries] == ["/", "/srv/a", "/srv/b", "/srv/merged", "none"]
    assert entries[3]["lower"] == ["/srv/a/l1", "/srv/a/l2"]


# ------------------------------------------------------------------ desired entry and escaping


def params(**kw):
    base = {"path": "/srv/merged", "mount_point": "/srv/merged", "lower": ["/srv/a/l1", "/srv/a/l2"], "upper": "/srv/a/up",
            "work": "/srv/a/wk", "options": [], "state": "mounted", "fstab": "/etc/fstab", "create_dirs": True}
    base.update(kw)
    return base


def test_option_string_escapes_colon_and_backslash():
    p = params(lower=["/a b", "/c:d", "/e\\f"], upper="/u:p", work="/w")
    assert m.overlay_option_string(p) == "lowerdir=/a b:/c\\:d:/e\\\\f,upperdir=/u\\:p,workdir=/w"


def test_fstab_line_round_trips_with_requires_mounts_for():
    p = params(path="/srv/m 3", lower=["/srv/a/sp ace", "/srv/a/co:lon"], options=["noatime", "nofail"])
    line = m.fstab_line(p)
    assert line.startswith("overlay /srv/m\\0403 overlay lowerdir=/srv/a/sp\\040ace:/srv/a/co\\134:lon,")
    entry = m.overlay_fstab(line)[0][1]
    assert entry["lower"] == p["lower"] and entry["upper"] == "/srv/a/up"
    assert [o for o in entry["overlay_options"] if o.startswith("x-systemd.requires-mounts-for=")] == [
        "x-systemd.requires-mounts-for=" + d for d in ["/srv/a/sp ace", "/srv/a/co:lon", "/srv/a/up", "/srv/a/wk"]]
    assert m.fstab_entry_matches(entry, p)
    assert m.overlay_option_string(p).endswith(",noatime")  # nofail is fstab-only


def test_fstab_match_ignores_layout_and_option_order():
    p = params(options=["noatime", "index=on"])
    reordered = ("overlay\t/srv/merged  overlay  index=on,lowerdir=/srv/a/l1:/srv/a/l2,noatime,upperdir=/srv/a/up,workdir=/srv/a/wk,"
                 + ",".join("x-systemd.requires-mounts-for=" + d for d in ["/srv/a/wk", "/srv/a/up", "/srv/a/l2", "/srv/a/l1"]) + "\t0 0\n")
    assert m.fstab_entry_matches(m.overlay_fstab(reordered)[0][1], p)
    assert not m.fstab_entry_matches(m.overlay_fstab(reordered)[0][1], params(options=["noatime"]))
    assert not m.fstab_entry_matches(m.overlay_fstab(reordered)[0][1], params(options=["noatime", "index=on"], lower=["/srv/a/l2", "/srv/a/l1"]))


# ------------------------------------------------------------------ option comparison


def test_kernel_added_options_never_count(mounts):
    m1 = at(mounts, T + "/m1")
    assert m.mount_differences(m1, params(lower=m1["lower"], upper=m1["upper"], work=m1["work"]), DEFAULTS) == []


def test_requested_options_against_reported(mounts):
    m5 = at(mounts, T + "/m5")
    same = params(lower=m5["lower"], upper=m5["upper"], work=m5["work"])
    for opt in ["index=on", "metacopy=on", "redirect_dir=on", "noatime", "nodev", "xino=on", "nofail", "x-foo=bar", "rw"]:
        assert m.option_satisfied(opt, m5, DEFAULTS), opt
    for opt in ["index=off", "ro", "noexec", "userxattr", "volatile", "relatime"]:
        assert not m.option_satisfied(opt, m5, DEFAULTS), opt
    assert m.mount_differences(m5, dict(same, options=["index=off"]), DEFAULTS) == ["options"]


def test_unreported_option_is_the_kernel_default(mounts):
    m1 = at(mounts, T + "/m1")
    assert m.option_satisfied("index=off", m1, DEFAULTS)
    assert not m.option_satisfied("index=on", m1, DEFAULTS)
    assert m.option_satisfied("index=on", m1, {})  # default unknown: not held against the mount
    assert m.option_satisfied("redirect_dir=follow", m1, DEFAULTS)
    assert m.option_satisfied("uuid=off", at(mounts, T + "/m2"), DEFAULTS)  # the kernel decides uuid


def test_volatile_and_userxattr_as_reported(mounts):
    m6 = at(mounts, T + "/m6")
    for opt in ["volatile", "userxattr", "ro"]:
        assert m.option_satisfied(opt, m6, DEFAULTS)


def test_kernel_defaults_from_module_parameters():
    assert DEFAULTS == {"index": "off", "metacopy": "off", "nfs_export": "off", "redirect_dir": "follow"}
    assert m.kernel_defaults_from_params({"index": "Y", "redirect_dir": "Y"}) == {"index": "on", "redirect_dir": "on"}
    assert m.kernel_defaults_from_params({}) == {}


def test_validate_options():
    assert m.validate_options(["index=on", "noatime", "volatile", "x-systemd.automount", "nofail"], True) == []
    errs = m.validate_options(["lowerdir=/x", "index=maybe", "volatile", "bogus", "ro", "rw"], False)
    assert len(errs) == 5 and all(e.startswith("options:") for e in errs)
