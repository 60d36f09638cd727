"""Build the lab images the molecule scenarios need, side by side, ahead of the molecule phase (make test).

Reads molecule/*/molecule.yml: each scenario's platforms (container hosts, VM hosts, VMs with zfs) and the suite
and extra packages its provisioner env asks for (COW_LAB_SUITE, COW_LAB_EXTRA_PACKAGES, COW_LAB_EXTRA_SUITES, as
molecule/shared/create.yml reads them). One build per distinct image, at most --jobs at once, each logged to
LOGDIR/prebuild-<n>.log; when a scenario's image is done (or failed), LOGDIR/prebuilt-<scenario> appears, so
make test starts each scenario as soon as its own image is there. The images are cached by content hash under LAB_STATE;
a build that fails here is retried by the scenario's own create, which then says why.
usage: prebuild.py [--jobs N] LOGDIR [SCENARIO...]
"""

import argparse
import glob
import json
import os
import subprocess
import sys
import tempfile
import time

import yaml


def specs(root, scenarios):
    found = {}
    for path in sorted(glob.glob(os.path.join(root, "molecule", "*", "molecule.yml"))):
        name = os.path.basename(os.path.dirname(path))
        if scenarios and name not in scenarios:
            continue
        with open(path, encoding="utf-8") as handle:
            config = yaml.safe_load(handle) or {}
        env = (config.get("provisioner") or {}).get("env") or {}
        common = {"lab_suite": env.get("COW_LAB_SUITE") or "bookworm",
                  "lab_extra_packages": (env.get("COW_LAB_EXTRA_PACKAGES") or "").split(),
                  "lab_extra_suites": (env.get("COW_LAB_EXTRA_SUITES") or "").split()}
        platforms = config.get("platforms") or []
        vms = [p for p in platforms if p.get("kind") == "vm"]
        if len(vms) < len(platforms):
            key = json.dumps(["image", common], sort_keys=True)
            found.setdefault(key, dict(common, lab_build_only="image", lab_hosts=[], scenarios=[]))["scenarios"].append(name)
        if vms:
            zfs = any(p.get("zfs") for p in vms)
            key = json.dumps(["vm_image", common["lab_suite"], zfs], sort_keys=True)
            hosts = [{"name": "prebuild", "kind": "vm", "zfs": zfs, "disks": []}]
            found.setdefault(key, dict(common, lab_build_only="vm_image", lab_hosts=hosts, scenarios=[]))["scenarios"].append(name)
    # the longest first: VM images (the zfs one builds kernel modules), then container images
    return sorted(found.values(), key=lambda s: (s["lab_build_only"] != "vm_image", not s["lab_hosts"] or not s["lab_hosts"][0]["zfs"]))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=3)
    parser.add_argument("logdir")
    parser.add_argument("scenarios", nargs="*")
    args = parser.parse_args()
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    os.makedirs(args.logdir, exist_ok=True)
    for stale in glob.glob(os.path.join(args.logdir, "prebuilt-*")):
        os.unlink(stale)
    todo = specs(root, set(args.scenarios))
    running, failed, start = [], 0, time.time()
    for n, spec in enumerate(todo, 1):
        while len(running) >= args.jobs:
            running, failed = reap(running, failed)
        what = "%s %s%s for %s" % (spec["lab_build_only"], spec["lab_suite"],
                                   " + zfs" if spec["lab_hosts"] and spec["lab_hosts"][0]["zfs"] else "", ", ".join(spec["scenarios"]))
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as handle:
            json.dump(dict((k, v) for k, v in spec.items() if k != "scenarios"), handle)
        log = os.path.join(args.logdir, "prebuild-%d.log" % n)
        proc = subprocess.Popen(["ansible-playbook", os.path.join(root, "molecule", "shared", "prebuild.yml"), "-e", "@" + handle.name],
                                cwd=root, stdout=open(log, "w"), stderr=subprocess.STDOUT)
        print("prebuild: started %s (log %s)" % (what, log), flush=True)
        running.append((proc, what, time.time(), handle.name, spec["scenarios"], args.logdir))
    while running:
        running, failed = reap(running, failed)
    print("prebuild: %d image(s) in %d s, %d failed" % (len(todo), time.time() - start, failed), flush=True)
    return 0


def reap(running, failed):
    time.sleep(2)
    left = []
    for proc, what, began, spec, scenarios, logdir in running:
        if proc.poll() is None:
            left.append((proc, what, began, spec, scenarios, logdir))
            continue
        os.unlink(spec)
        for name in scenarios:
            with open(os.path.join(logdir, "prebuilt-" + name), "w", encoding="utf-8") as marker:
                marker.write("%d\n" % proc.returncode)
        ok = proc.returncode == 0
        failed += 0 if ok else 1
        print("prebuild: %s %s in %d s" % (what, "done" if ok else "FAILED (the scenario's create retries it)", time.time() - began), flush=True)
    return left, failed


if __name__ == "__main__":
    sys.exit(main())
