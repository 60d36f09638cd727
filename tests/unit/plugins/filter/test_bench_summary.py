# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""bench_summary aggregates the raw runs of the benchmark role; the input is trimmed from a real
quick run on the lab (make bench-quick on cow-btrfs, cow-overlay2, cow-vfs). No timing is asserted
against the machine: only the arithmetic on fixed numbers."""

from __future__ import annotations

from ansible_collections.cow.storage.plugins.filter.bench_summary import FilterModule, bench_summary

__metaclass__ = type  # pylint: disable=invalid-name


def _img(driver, size, start, create):
    return {"size_mib": size, "image": "cow-bench:%dm" % size, "driver": driver, "data_root_fs": "ext4",
            "import_s": 0.4, "start_s": start, "create_s": create, "rm_s": [0.05] * len(create),
            "image_bytes": size * 1048576 + 4079408}


RESULTS = [
    {"host": "cow-btrfs", "driver": "btrfs", "quick": True,
     "images": [_img("btrfs", 2, [0.53, 0.68, 0.38], [0.08, 0.06, 0.06]),
                _img("btrfs", 128, [0.48, 0.43, 0.59], [0.05, 0.07, 0.08])],
     "primitives": [{"size_mib": 16, "fs": "btrfs", "skipped": {},
                     "results": {"btrfs_snapshot": [0.012, 0.011, 0.0122], "full_copy": [0.03, 0.02, 0.04]}}]},
    {"host": "cow-overlay2", "driver": "overlay2", "quick": True,
     "images": [_img("overlay2", 2, [0.74, 1.39, 0.95], [0.15, 0.14, 0.1]),
                _img("overlay2", 128, [1.48, 1.2, 1.23], [0.17, 0.17, 0.11])],
     "primitives": []},
    {"host": "cow-vfs", "driver": "vfs", "quick": True,
     "images": [_img("vfs", 2, [0.76, 0.94, 0.58], [0.07, 0.2, 0.11]),
                _img("vfs", 128, [2.2, 2.8, 2.0, 2.4], [0.48, 0.57, 0.58])],
     "primitives": []},
]


def _row(rows, host, size):
    return [r for r in rows if r["host"] == host and r["size_mib"] == size][0]


def test_median_min_max_odd_and_even():
    s = bench_summary(RESULTS)
    row = _row(s["start"], "cow-btrfs", 2)
    assert (row["runs"], row["median"], row["min"], row["max"]) == (3, 0.53, 0.38, 0.68)
    row = _row(s["start"], "cow-vfs", 128)
    assert (row["runs"], row["median"], row["min"], row["max"]) == (4, 2.3, 2.0, 2.8)


def test_ratio_to_vfs_at_the_same_size():
    s = bench_summary(RESULTS)
    assert _row(s["start"], "cow-btrfs", 128)["vs_vfs"] == round(2.3 / 0.48, 2)
    assert _row(s["start"], "cow-vfs", 128)["vs_vfs"] == 1.0
    assert _row(s["create"], "cow-overlay2", 128)["vs_vfs"] == round(0.57 / 0.17, 2)


def test_short_form_is_the_largest_common_size_fastest_first():
    short = bench_summary(RESULTS)["short"]
    assert [r["driver"] for r in short] == ["btrfs", "overlay2", "vfs"]
    assert {r["size_mib"] for r in short} == {128}


def test_short_form_skips_a_size_one_backend_lacks():
    partial = [dict(h) for h in RESULTS]
    partial[1] = dict(partial[1], images=partial[1]["images"][:1])
    assert {r["size_mib"] for r in bench_summary(partial)["short"]} == {2}


def test_no_vfs_host_gives_no_ratio():
    s = bench_summary(RESULTS[:2])
    assert all(r["vs_vfs"] is None for r in s["start"])


def test_primitives_rows():
    prims = bench_summary(RESULTS)["primitives"]
    assert [(r["primitive"], r["median"]) for r in prims] == [("btrfs_snapshot", 0.012), ("full_copy", 0.03)]


def test_empty_and_junk_input():
    assert bench_summary(None) == {"start": [], "create": [], "primitives": [], "short": [], "by_image": []}
    assert bench_summary(["not a dict"])["start"] == []


def test_registered():
    assert FilterModule().filters()["bench_summary"] is bench_summary


def _real(driver, name, files, start):
    return {"kind": "rootfs", "name": name, "files": files, "size_mib": files // 40, "driver": driver,
            "image": "cow-bench-%s:0123456789ab" % name, "load1": 0.4, "start_s": start, "create_s": start,
            "rm_s": [0.05] * len(start)}


REAL = [
    {"host": "cow-overlay2", "driver": "overlay2",
     "images": [_real("overlay2", "debian-full", 40000, [0.3, 0.31, 0.29]),
                _real("overlay2", "debian-minbase", 7000, [0.25, 0.26, 0.3]),
                _img("overlay2", 300, [0.5, 0.5, 0.5], [0.1, 0.1, 0.1])]},
    {"host": "cow-vfs", "driver": "vfs",
     "images": [_real("vfs", "debian-minbase", 7000, [1.0, 1.1, 1.2]),
                _real("vfs", "debian-full", 40000, [3.6, 3.3, 3.0]),
                _img("vfs", 300, [1.0, 1.0, 1.0], [0.6, 0.6, 0.6])]},
]


def test_real_images_compare_by_name_and_come_first_by_files():
    s = bench_summary(REAL)
    names = [(r["name"], r["driver"]) for r in s["start"]]
    assert names == [("debian-minbase", "overlay2"), ("debian-minbase", "vfs"), ("debian-full", "overlay2"),
                     ("debian-full", "vfs"), ("generated 300 MiB", "overlay2"), ("generated 300 MiB", "vfs")]
    full = [r for r in s["start"] if r["name"] == "debian-full" and r["driver"] == "overlay2"][0]
    assert (full["files"], full["kind"], full["vs_vfs"]) == (40000, "rootfs", round(3.3 / 0.3, 2))


def test_by_image_gives_the_ratio_per_backend_as_files_grow():
    rows = bench_summary(REAL)["by_image"]
    assert [(r["name"], r["files"]) for r in rows] == [("debian-minbase", 7000), ("debian-full", 40000),
                                                       ("generated 300 MiB", None)]
    assert rows[0]["vs_vfs"] == {"overlay2": round(1.1 / 0.26, 2), "vfs": 1.0}
    assert rows[2]["median"] == {"overlay2": 0.5, "vfs": 1.0}


def test_short_form_ignores_real_images():
    short = bench_summary(REAL)["short"]
    assert [(r["driver"], r["size_mib"], r["median"]) for r in short] == [("overlay2", 300, 0.5), ("vfs", 300, 1.0)]
