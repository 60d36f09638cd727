# Copyright: cow.storage contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Measure one image size (or one primitive) on this host; print one JSON document.

Run by the cow.storage.benchmark role through ansible.builtin.script: one call per host and
image, so the per-run timing loop costs no Ansible round-trip. No registry is needed: a generated
image is a busybox root plus N MiB of random files, ``tar | docker import -``; a real one is a
Debian root filesystem the controller built (mmdebstrap), copied here or seen through a mount as TAR, imported once.

  cow_bench_host.py image SIZE_MIB RUNS WARMUP KEEP(0|1) [CLONE_RUNS]
  cow_bench_host.py rootfs NAME TAG TAR FILES RUNS WARMUP KEEP(0|1) [CLONE_RUNS [KEEP_TAR(0|1)]]
  cow_bench_host.py import TAG TAR [KEEP_TAR(0|1)]   (import a real image ahead of its measurement, untimed by it)
  cow_bench_host.py primitives SIZE_MIB RUNS THIN_POOL(vg/pool or -)

CLONE_RUNS (default RUNS) times ``docker create`` alone; quick mode passes 0. TAR is removed once imported (this
host's copy) unless KEEP_TAR is 1: the controller's own cache, seen here through a (read-only) mount.
"""
import json
import os
import shutil
import subprocess
import sys
import time

PREFIX = "cow-bench"
WORK = "/var/tmp/cow-bench"
CHUNK_MIB = 8  # files of at most 8 MiB, so a full copy (vfs) copies many files


def run(argv, check=True, **kw):
    env = dict(os.environ, LC_ALL="C")
    res = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         universal_newlines=True, env=env, check=False, **kw)
    if check and res.returncode != 0:
        raise RuntimeError("%s: rc=%d: %s" % (" ".join(argv), res.returncode, res.stderr.strip()[-400:]))
    return res


def timed(argv):
    t0 = time.perf_counter()
    run(argv)
    return time.perf_counter() - t0


def fill(path, size_mib):
    """Write size_mib MiB of random data into path as files of CHUNK_MIB MiB."""
    os.makedirs(path, exist_ok=True)
    left, i = size_mib, 0
    with open("/dev/urandom", "rb") as rnd:
        while left > 0:
            n = min(CHUNK_MIB, left)
            with open(os.path.join(path, "blob%04d" % i), "wb") as out:
                for _chunk in range(n):
                    out.write(rnd.read(1 << 20))
            left -= n
            i += 1


def busybox():
    for p in ("/bin/busybox", "/usr/bin/busybox"):
        if os.path.exists(p):
            return p
    raise RuntimeError("no busybox on this host (/bin/busybox): install busybox-static")


def build_image(tag, size_mib):
    """Import a busybox root plus size_mib MiB of generated data as tag; return build seconds."""
    root = os.path.join(WORK, "rootfs-%d" % size_mib)
    shutil.rmtree(root, ignore_errors=True)
    os.makedirs(os.path.join(root, "bin"))
    shutil.copy2(busybox(), os.path.join(root, "bin", "busybox"))
    for applet in ("true", "sh"):
        os.symlink("busybox", os.path.join(root, "bin", applet))
    if size_mib:
        fill(os.path.join(root, "data"), size_mib)
    t0 = time.perf_counter()
    tar = subprocess.Popen(["tar", "-C", root, "-cf", "-", "."], stdout=subprocess.PIPE)
    imp = subprocess.run(["docker", "import", "-c", "ENV PATH=/bin", "-", tag], stdin=tar.stdout,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, check=False)
    tar.stdout.close()
    tar.wait()
    shutil.rmtree(root, ignore_errors=True)
    if imp.returncode != 0 or tar.returncode != 0:
        raise RuntimeError("docker import %s failed: %s" % (tag, imp.stderr.strip()[-400:]))
    return time.perf_counter() - t0


def header(kind, name, tag, size_mib):
    info = json.loads(run(["docker", "info", "--format", "{{json .}}"]).stdout)
    return {"kind": kind, "name": name, "size_mib": size_mib, "image": tag, "driver": info.get("Driver"),
            "data_root_fs": fs_type(info.get("DockerRootDir") or "/var/lib/docker"),
            "load1": round(os.getloadavg()[0], 2), "import_s": None, "start_s": [], "create_s": [], "rm_s": []}


def image(size_mib, runs, warmup, keep, clones):
    tag = "%s:%dm" % (PREFIX, size_mib)
    out = header("generated", "generated %d MiB" % size_mib, tag, size_mib)
    if run(["docker", "image", "inspect", tag], check=False).returncode != 0:
        out["import_s"] = build_image(tag, size_mib)
    return measure(tag, out, runs, warmup, keep, clones)


def import_rootfs(tag, tar, keep_tar=False):
    """Import the controller's root filesystem archive TAR as TAG unless the engine holds it; then remove TAR,
    unless keep_tar (the controller's cache itself, mounted here).

    Returns the seconds the import took, or None when the image was already there."""
    seconds = None
    if run(["docker", "image", "inspect", tag], check=False).returncode != 0:
        if not os.path.exists(tar):
            raise RuntimeError("%s is not on this host and %s is missing" % (tag, tar))
        t0 = time.perf_counter()
        run(["docker", "import", "-c", "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
             tar, tag])
        seconds = time.perf_counter() - t0
    if not keep_tar and os.path.exists(tar):
        os.unlink(tar)
    return seconds


def rootfs(name, tag, tar, files, runs, warmup, keep, clones, keep_tar=False):
    """A real distribution image: import the controller's root filesystem archive once, then measure."""
    out = header("rootfs", name, tag, None)
    out["files"] = files
    out["import_s"] = import_rootfs(tag, tar, keep_tar)
    return measure(tag, out, runs, warmup, keep, clones)


def measure(tag, out, runs, warmup, keep, clones):
    out["image_bytes"] = int(run(["docker", "image", "inspect", "--format", "{{.Size}}", tag]).stdout)
    if out["size_mib"] is None:
        out["size_mib"] = int(round(out["image_bytes"] / 1048576.0))
    for i in range(warmup + runs):
        # the seed's measurement: a container from the image, started and removed
        t = timed(["docker", "run", "--rm", "--network", "none", tag, "true"])
        if i >= warmup:
            out["start_s"].append(t)
    for _run in range(clones):
        # the clone alone: the container's writable layer made from the image (a full copy on vfs)
        name = "%s-clone-%d" % (PREFIX, os.getpid())
        out["create_s"].append(timed(["docker", "create", "--name", name, "--network", "none", tag, "true"]))
        out["rm_s"].append(timed(["docker", "rm", name]))
    if not keep:
        run(["docker", "image", "rm", tag], check=False)
    return out


def fs_type(path):
    """The filesystem type of the mount holding path (findmnt names ext4 as ext4; stat -f says ext2/ext3)."""
    res = run(["findmnt", "-n", "-o", "FSTYPE", "-T", path], check=False)
    if res.returncode == 0 and res.stdout.strip():
        return res.stdout.strip().splitlines()[0]
    return run(["stat", "-f", "-c", "%T", path]).stdout.strip()


def prim_btrfs(base, size_mib, runs):
    top = os.path.join(base, "btrfs")
    if not os.path.isdir(top):
        os.makedirs(top)
    src = os.path.join(top, "src")
    run(["btrfs", "subvolume", "create", src])
    try:
        fill(src, size_mib)
        run(["sync"])
        times = []
        for i in range(runs):
            snap = os.path.join(top, "snap%d" % i)
            times.append(timed(["btrfs", "subvolume", "snapshot", src, snap]))
            run(["btrfs", "subvolume", "delete", snap])
        return times
    finally:
        run(["btrfs", "subvolume", "delete", src], check=False)


def prim_overlay(base, size_mib, runs):
    top = os.path.join(base, "overlay")
    lower = os.path.join(top, "lower")
    fill(lower, size_mib)
    run(["sync"])
    times = []
    for i in range(runs):
        upper, work, merged = [os.path.join(top, "%s%d" % (d, i)) for d in ("upper", "work", "merged")]
        for d in (upper, work, merged):
            os.makedirs(d)
        t0 = time.perf_counter()
        run(["mount", "-t", "overlay", "cowbench", "-o",
             "lowerdir=%s,upperdir=%s,workdir=%s" % (lower, upper, work), merged])
        times.append(time.perf_counter() - t0)
        run(["umount", merged])
    return times


def prim_copy(base, size_mib, runs):
    """The full copy vfs makes, as a reference line."""
    top = os.path.join(base, "copy")
    src = os.path.join(top, "src")
    fill(src, size_mib)
    run(["sync"])
    times = []
    for i in range(runs):
        dst = os.path.join(top, "dst%d" % i)
        times.append(timed(["cp", "-a", "--reflink=never", src, dst]))
        shutil.rmtree(dst)
    return times


def dm_name(vg, lv):
    """LVM's device-mapper name of vg/lv (dashes in either name are doubled)."""
    return "%s-%s" % (vg.replace("-", "--"), lv.replace("-", "--"))


def docker_pool():
    """The device-mapper name of Docker's devicemapper pool, from daemon.json and the running engine."""
    names = set()
    try:
        with open("/etc/docker/daemon.json") as handle:
            config = json.load(handle)
        for option in config.get("storage-opts") or []:
            key, dummy, value = str(option).partition("=")
            if key.strip() == "dm.thinpooldev":
                names.add(os.path.basename(value.strip()))
    except (IOError, OSError, ValueError):
        pass
    res = run(["docker", "info", "--format", "{{json .DriverStatus}}"], check=False)
    try:
        for key, value in json.loads(res.stdout or "null") or []:
            if key == "Pool Name":
                names.add(value)
    except (ValueError, TypeError):
        pass
    return names


def prim_thin(pool, size_mib, runs):
    vg, dummy, pool_lv = pool.partition("/")
    if dm_name(vg, pool_lv) in docker_pool():
        # LVM thin volumes in Docker's pool turn it into a linear device over -tpool, and dockerd then refuses it.
        raise RuntimeError("benchmark_thin_pool %s is Docker's devicemapper pool; measure in a pool of its own "
                           "(benchmark_thin_device)" % pool)
    lv = "cowbench"
    run(["lvcreate", "-q", "-y", "-V", "%dM" % max(size_mib * 2, 64), "-T", pool, "-n", lv])
    try:
        dev = "/dev/%s/%s" % (vg, lv)
        run(["dd", "if=/dev/urandom", "of=" + dev, "bs=1M", "count=%d" % size_mib, "oflag=direct"])
        times = []
        for i in range(runs):
            snap = "%s-snap%d" % (lv, i)
            times.append(timed(["lvcreate", "-q", "-y", "-s", "-n", snap, "%s/%s" % (vg, lv)]))
            run(["lvremove", "-q", "-y", "%s/%s" % (vg, snap)])
        return times
    finally:
        run(["lvremove", "-q", "-y", "%s/%s" % (vg, lv)], check=False)


def primitives(size_mib, runs, thin_pool):
    """Raw CoW primitives vs data size where this host's filesystems allow them."""
    info = json.loads(run(["docker", "info", "--format", "{{json .}}"]).stdout)
    root = info.get("DockerRootDir") or "/var/lib/docker"
    base = os.path.join(root, "cow-bench-primitives")
    fstype = fs_type(root)
    out = {"size_mib": size_mib, "fs": fstype, "results": {}, "skipped": {}}
    kinds = [("full_copy", lambda: prim_copy(base, size_mib, runs))]
    if fstype == "btrfs":
        kinds.append(("btrfs_snapshot", lambda: prim_btrfs(base, size_mib, runs)))
    else:
        out["skipped"]["btrfs_snapshot"] = "data root is on %s" % fstype
    if fstype in ("xfs", "ext4", "btrfs", "tmpfs"):
        kinds.append(("overlay_mount", lambda: prim_overlay(base, size_mib, runs)))
    else:
        out["skipped"]["overlay_mount"] = "overlayfs cannot use %s as upper layer" % fstype
    if thin_pool != "-":
        kinds.append(("thin_snapshot", lambda: prim_thin(thin_pool, size_mib, runs)))
    else:
        out["skipped"]["thin_snapshot"] = "no thin pool given (benchmark_thin_pool)"
    for name, func in kinds:
        shutil.rmtree(base, ignore_errors=True)
        os.makedirs(base)
        try:
            out["results"][name] = func()
        except (RuntimeError, OSError) as exc:
            out["skipped"][name] = str(exc)
        finally:
            shutil.rmtree(base, ignore_errors=True)
    return out


def main(argv):
    try:
        if argv[1] == "image":
            runs = int(argv[3])
            res = image(int(argv[2]), runs, int(argv[4]), argv[5] == "1", int(argv[6]) if len(argv) > 6 else runs)
        elif argv[1] == "rootfs":
            runs = int(argv[6])
            res = rootfs(argv[2], argv[3], argv[4], int(argv[5]), runs, int(argv[7]), argv[8] == "1",
                         int(argv[9]) if len(argv) > 9 else runs, len(argv) > 10 and argv[10] == "1")
        elif argv[1] == "import":
            res = {"tag": argv[2], "import_s": import_rootfs(argv[2], argv[3], len(argv) > 4 and argv[4] == "1")}
        elif argv[1] == "primitives":
            res = primitives(int(argv[2]), int(argv[3]), argv[4])
        else:
            raise RuntimeError("unknown mode %s" % argv[1])
    except (RuntimeError, OSError, ValueError, IndexError) as exc:
        print(json.dumps({"error": str(exc)}))
        return 1
    print(json.dumps(res))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
