# -*- coding: utf-8 -*-
# Copyright: cow.storage contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The size dialects of _sizes: what each tool's spelling accepts, and the exact refusals."""

from __future__ import annotations

import pytest

from ansible_collections.cow.storage.plugins.module_utils import _sizes as S

__metaclass__ = type  # pylint: disable=invalid-name

MIB = 1024 * 1024


# ---------------------------------------------------------------- btrfs-progs

@pytest.mark.parametrize("text, expected", [
    ("512M", 512 * 1024 ** 2),
    ("2G", 2 * 1024 ** 3),
    ("2g", 2 * 1024 ** 3),
    ("1.5GiB", 1610612736),
    ("1.5 GiB", 1610612736),
    ("1.5Gi", 1610612736),
    (".5G", 512 * MIB),
    ("100MB", 100 * 1024 ** 2),
    ("1048576", 1048576),
    ("4096B", 4096),
    ("1T", 1024 ** 4),
    ("none", None),
    ("None", None),
    (1073741824, 1073741824),
])
def test_btrfs_size(text, expected):
    assert S.btrfs_size(text) == expected


@pytest.mark.parametrize("text", ["12X", "", "G", "-1G", "0", "0M", "1.5", "2 G B", "1e9", "GiB", "1iB", True])
def test_btrfs_size_rejects(text):
    with pytest.raises(ValueError):
        S.btrfs_size(text)


@pytest.mark.parametrize("text, message", [
    ("12X", "invalid size '12X' (expected bytes, a number with a unit K, M, G, T, P or E such as 512M or 1.5GiB, or none)"),
    ("1iB", "invalid size '1iB'"),
    (True, "invalid size True"),
    ("1.5", "invalid size '1.5': not a whole number of bytes"),
    ("0M", "invalid size '0M': must be greater than zero (use none to remove a limit)"),
    (0, "invalid size 0: must be greater than zero (use none to remove a limit)"),
])
def test_btrfs_size_messages(text, message):
    with pytest.raises(ValueError) as err:
        S.btrfs_size(text)
    assert str(err.value) == message


# ---------------------------------------------------------------- lvm2

@pytest.mark.parametrize("text,expected", [
    ("10g", 10 * 1024 ** 3), ("10G", 10 * 1024 ** 3), ("10GiB", 10 * 1024 ** 3), ("10gb", 10 * 1024 ** 3), ("512k", 512 * 1024),
    ("4096b", 4096), ("8s", 4096), ("100", 100 * MIB), ("1.5g", 1536 * MIB),
])
def test_lvm_size(text, expected):
    assert S.lvm_size(text) == expected


def test_lvm_size_default_unit():
    assert S.lvm_size("512", default_unit="k") == 512 * 1024
    assert S.lvm_size("512m", default_unit="k") == 512 * MIB


@pytest.mark.parametrize("text", ["", "ten", "0", "1.3b", "-1g", "10x", "%VG", ".5g", "1.g", "1gi", True])
def test_lvm_size_rejects(text):
    with pytest.raises(ValueError):
        S.lvm_size(text)


@pytest.mark.parametrize("text, message", [
    ("10x", "invalid size '10x' (expected a number with a unit b, s, k, m, g, t, p or e such as 512k or 10g)"),
    (True, "invalid size True (expected a number with a unit b, s, k, m, g, t, p or e such as 512k or 10g)"),
    ("1.3b", "invalid size '1.3b': not a whole number of bytes"),
    ("0", "invalid size '0': must be greater than zero"),
])
def test_lvm_size_messages(text, message):
    with pytest.raises(ValueError) as err:
        S.lvm_size(text)
    assert str(err.value) == message


def test_lvm_size_request():
    assert S.lvm_size_request("95%VG") == {"percent": 95.0, "of": "VG"}
    assert S.lvm_size_request("50%free") == {"percent": 50.0, "of": "FREE"}
    assert S.lvm_size_request("100 % PVS") == {"percent": 100.0, "of": "PVS"}
    assert S.lvm_size_request("1g") == {"bytes": 1024 ** 3}
    for bad in ("0%VG", "101%VG", "95%LV"):
        with pytest.raises(ValueError):
            S.lvm_size_request(bad)
    with pytest.raises(ValueError, match=r"^invalid size '101%VG': a percentage must be more than 0 and at most 100$"):
        S.lvm_size_request("101%VG")


# ---------------------------------------------------------------- go-units (containerd)

GO_UNITS = [
    ("64MB", 64 * 1024 ** 2), ("10GB", 10 * 1024 ** 3), ("10G", 10 * 1024 ** 3), ("8192MiB", 8 * 1024 ** 3),
    ("1073741824", 1073741824), ("0.5g", 512 * 1024 ** 2), ("0.5", 0), ("0", 0), ("10i", 10),
    ("lots", None), ("", None), ("-1GB", None), ("1E", None), (".5g", None),
]


@pytest.mark.parametrize("text, expected", GO_UNITS)
def test_go_units_size(text, expected):
    assert S.go_units_size(text) == expected
