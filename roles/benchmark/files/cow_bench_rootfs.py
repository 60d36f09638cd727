# Copyright: cow.storage contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Build (or reuse) a real distribution root filesystem for the benchmark, on the controller; print one JSON document.

The image is a Debian root filesystem made with mmdebstrap (no registry), cached by the hash of what goes into it
(suite, mirror, variant, packages) as CACHE/NAME-HASH.tar, with its file count and size beside it in
CACHE/NAME-HASH.json, so the next run reuses both. Real images hold tens of thousands of small files, which is
what vfs pays for (a full copy per container) and what generated layers of a few large files hide.

  cow_bench_rootfs.py CACHE NAME SUITE MIRROR VARIANT PACKAGES(comma-separated or -) [NICE]

NICE (0-19, default 0) lowers the build's priority: make lab builds these in the background while the hosts boot.
"""
import hashlib
import json
import os
import subprocess
import sys
import tarfile
import time


def stats(path):
    files = dirs = links = 0
    size = 0
    with tarfile.open(path) as tar:
        for member in tar:
            if member.isfile():
                files += 1
                size += member.size
            elif member.isdir():
                dirs += 1
            else:
                links += 1
    return {"files": files, "dirs": dirs, "other": links, "bytes": size}


def lower_priority(nice):
    """Build at NICE, this whole session included.

    The role runs each build as an async job, which is a session of its own; the kernel first shares the CPU between
    sessions (autogroups) and only then looks at a process's nice value, so the session's nice is set as well."""
    if nice <= 0:
        return
    os.nice(nice)
    try:
        with open("/proc/self/autogroup", "w", encoding="ascii") as handle:
            handle.write(str(nice))
    except OSError:
        pass  # no autogroups (CONFIG_SCHED_AUTOGROUP off): the process's nice value is all there is


def main(argv):
    cache, name, suite, mirror, variant, packages = argv[1:7]
    lower_priority(int(argv[7]) if len(argv) > 7 else 0)
    pkgs = sorted(p for p in packages.split(",") if p and p != "-")
    digest = hashlib.sha256("\n".join([suite, mirror, variant] + pkgs).encode("utf-8")).hexdigest()[:12]
    stem = os.path.join(cache, "%s-%s" % (name, digest))
    # archive: the tar's own name, by which a host that sees this cache through a mount finds it
    out = {"name": name, "tag": "cow-bench-%s:%s" % (name, digest), "tar": stem + ".tar",
           "archive": os.path.basename(stem) + ".tar", "built": False, "build_s": None}
    os.makedirs(cache, exist_ok=True)
    if not (os.path.exists(stem + ".tar") and os.path.exists(stem + ".json")):
        t0 = time.perf_counter()
        tmp = "%s.%d.tmp.tar" % (stem, os.getpid())
        # dpkg skips its fsync()s during the build only (~10% of it): the tar is renamed into place once complete
        unsafe_io = '"$1"/etc/dpkg/dpkg.cfg.d/00cow-build-unsafe-io'
        argv = ["mmdebstrap", "--quiet", "--variant=" + variant, '--aptopt=Acquire::Languages "none"',
                "--setup-hook=echo force-unsafe-io > " + unsafe_io, "--customize-hook=rm -f " + unsafe_io]
        if pkgs:
            argv.append("--include=" + ",".join(pkgs))
        argv += [suite, tmp, "deb %s %s main" % (mirror, suite)]
        try:
            proc = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True,
                                  check=False)
        except OSError as exc:
            print(json.dumps({"name": name, "error": "mmdebstrap could not run (%s): install it (make deps)" % exc}))
            return 1
        if proc.returncode != 0:
            if os.path.exists(tmp):
                os.unlink(tmp)
            print(json.dumps({"name": name, "error": "mmdebstrap %s failed (rc=%d); the mirror %s must be reachable: %s"
                              % (name, proc.returncode, mirror, proc.stderr.strip()[-600:])}))
            return 1
        with open(stem + ".json", "w", encoding="utf-8") as handle:
            json.dump(stats(tmp), handle)
        os.rename(tmp, stem + ".tar")
        out["built"] = True
        out["build_s"] = round(time.perf_counter() - t0, 1)
    with open(stem + ".json", encoding="utf-8") as handle:
        out.update(json.load(handle))
    out["size_mib"] = int(round(out["bytes"] / 1048576.0))
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
