# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The collection's own speed against the play a user would write instead, side by side in one run (make bench-self):

- site.yml (cow.storage.backend) against the peer play playbooks/bench/peer.yml (community.general.filesystem,
  ansible.posix.mount, a copied daemon.json, a restart handler, a ``docker info`` check, default fact gathering),
  both converging fresh lab hosts onto overlay2 on a dedicated xfs disk (the same end state), for 1, 4 and 8 hosts
  per side (forks = hosts): the first converge, then no-op re-converges (median of BENCH_SELF_REPEAT), interleaved
  so that both sides see the same machine load;
- a baseline play doing the minimum (minimal facts and ``docker info``) on the same hosts, with the no-ops;
- the tasks per host that reach the host (a module run there), first converge and no-op, from the json callback;
- the controller's CPU seconds per host per converge: user+sys of ansible-playbook and its children (the
  connection's ``docker exec`` processes included) divided by the hosts.

Each size gets fresh hosts for each side (a lab of its own, ``cow-bench-self``), removed at the end. The 1-minute
load average is printed beside every figure. Prints figures and writes bench-results/self.{json,md}; it asserts
nothing about times.
"""

from __future__ import annotations

import datetime
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WORK = os.path.join(ROOT, ".cache", "bench-self")
RESULTS = os.path.join(ROOT, "bench-results")
SIZES = [int(n) for n in os.environ.get("BENCH_SELF_SIZES", "1,4,8").split(",")]
REPEAT = int(os.environ.get("BENCH_SELF_REPEAT", "3"))
LAB_NAME = os.environ.get("BENCH_SELF_LAB", "cow-bench-self")
# The lab's connection to its hosts (the lab role's default when unset), to compare connection plugins.
CONNECTION = os.environ.get("BENCH_SELF_CONNECTION", "")
DISK = os.environ.get("BENCH_SELF_DISK", "2G")
PEER = os.path.join(ROOT, "playbooks", "bench", "peer.yml")
# Actions that run on the controller only (no round-trip to the host).
LOCAL_ACTIONS = {"debug", "set_fact", "assert", "fail", "include_tasks", "include_role", "import_tasks", "import_role",
                 "meta", "validate_argument_spec", "include_vars", "add_host", "group_by", "pause"}
BASELINE = """---
- name: Baseline, the minimum a converge must do
  hosts: "{{ target | default('all') }}"
  gather_facts: true
  gather_subset: [min]
  tasks:
    - name: Ask the engine its driver
      ansible.builtin.command: docker info --format '{{ '{{' }}.Driver{{ '}}' }}'
      changed_when: false
"""


def load1():
    return os.getloadavg()[0]


def is_local(action):
    return action.rsplit(".", 1)[-1] in LOCAL_ACTIONS


def playbook(args, json_out=False):
    """Run ansible-playbook; return (wall seconds, controller CPU seconds, load1 before, parsed json or None)."""
    # gathering=implicit: plays that gather facts gather them every time (no fact cache help). No extra callbacks
    # from the caller's environment (profile_tasks, timer...): they would cost every side CPU and print after the JSON;
    # the project's ansible.cfg enables none.
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg"), ANSIBLE_FORCE_COLOR="0",
               ANSIBLE_GATHERING="implicit")
    env.pop("ANSIBLE_CALLBACKS_ENABLED", None)
    if json_out:
        env.update(ANSIBLE_STDOUT_CALLBACK="ansible.posix.json", ANSIBLE_CALLBACK_RESULT_FORMAT="json")
    load = load1()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.run(["ansible-playbook"] + args, cwd=ROOT, env=env, check=False, universal_newlines=True,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    took = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if proc.returncode != 0:
        sys.exit("bench-self: ansible-playbook %s failed (rc=%d): %s%s"
                 % (" ".join(args), proc.returncode, proc.stdout[-3000:], proc.stderr[-2000:]))
    # the first JSON document on stdout (the json callback's); anything printed after it is not part of it
    data = json.JSONDecoder().raw_decode(proc.stdout[proc.stdout.index("{"):])[0] if json_out else None
    return took, cpu, load, data


def remote_tasks(data, hosts):
    """Tasks that ran a module on each host (not skipped, not controller-only), from the json callback."""
    per_host = dict((h, []) for h in hosts)
    for play in data["plays"]:
        for task in play["tasks"]:
            for host, result in task["hosts"].items():
                action = result.get("action") or ""
                if host in per_host and not is_local(action) and not result.get("skipped"):
                    per_host[host].append("%s (%s)" % (task["task"].get("name"), action))
    return per_host


def measure(label, args, hosts):
    took, cpu, load, data = playbook(args, json_out=True)
    tasks = remote_tasks(data, hosts)
    counts = sorted(len(t) for t in tasks.values())
    return {"what": label, "s": took, "cpu_s": cpu, "cpu_s_per_host": cpu / len(hosts), "load1": load,
            "tasks_per_host": counts[len(counts) // 2], "tasks": tasks[hosts[0]]}


def med(runs, key):
    return statistics.median(r[key] for r in runs)


def size_run(n, lab_base, inventory, baseline):
    cow = ["cow-bs-c%02d" % i for i in range(1, n + 1)]
    peer = ["cow-bs-p%02d" % i for i in range(1, n + 1)]
    fleet = os.path.join(WORK, "fleet.yml")
    hosts = [{"name": h, "groups": ["overlay2"], "vars": {"backend_device": "/dev/vdb"},
              "disks": [{"name": "vdb", "size": DISK}]} for h in cow + peer]
    with open(fleet, "w", encoding="utf-8") as f:
        json.dump({"lab_hosts": hosts}, f)
    lab = lab_base + ["-e", "lab_fleet=" + fleet]
    playbook(lab + ["-e", "lab_state=absent"])
    up = playbook(lab)[0]
    print("bench-self: %d fresh hosts up in %.1f s (load %.2f)" % (2 * n, up, load1()), flush=True)

    def args(names, play):
        return ["-i", inventory, "-e", "target=" + ",".join(names), "--forks", str(n), play]

    row = {"hosts": n, "hosts_up_s": up}
    try:
        # first converge, interleaved: cow.storage, then the peer on its own fresh hosts
        row["first"] = {"site": measure("site.yml first", args(cow, "site.yml"), cow),
                        "peer": measure("peer first", args(peer, PEER), peer)}
        runs = {"site": [], "peer": [], "baseline": []}
        for dummy in range(REPEAT):
            runs["site"].append(measure("site.yml no-op", args(cow, "site.yml"), cow))
            runs["peer"].append(measure("peer no-op", args(peer, PEER), peer))
            runs["baseline"].append(measure("baseline", args(cow, baseline), cow))
        row["noop_runs"] = runs
        row["noop"] = dict((k, {"s": med(v, "s"), "cpu_s_per_host": med(v, "cpu_s_per_host"), "load1": med(v, "load1"),
                                "tasks_per_host": v[-1]["tasks_per_host"], "tasks": v[-1]["tasks"]})
                           for k, v in runs.items())
    finally:
        playbook(lab + ["-e", "lab_state=absent"])
    f, o = row["first"], row["noop"]
    row["first_ratio"] = f["site"]["s"] / f["peer"]["s"]
    row["noop_ratio"] = o["site"]["s"] / o["peer"]["s"]
    print("bench-self: %d host(s): first converge %.1f s vs peer %.1f s (%.2fx, load %.2f/%.2f); no-op %.1f s vs peer "
          "%.1f s (%.2fx), baseline %.1f s (load %.2f); tasks per host first %d vs %d, no-op %d vs %d; CPU s per host "
          "per no-op: site %.2f, peer %.2f, baseline %.2f"
          % (n, f["site"]["s"], f["peer"]["s"], row["first_ratio"], f["site"]["load1"], f["peer"]["load1"],
             o["site"]["s"], o["peer"]["s"], row["noop_ratio"], o["baseline"]["s"], o["site"]["load1"],
             f["site"]["tasks_per_host"], f["peer"]["tasks_per_host"], o["site"]["tasks_per_host"],
             o["peer"]["tasks_per_host"], o["site"]["cpu_s_per_host"], o["peer"]["cpu_s_per_host"],
             o["baseline"]["cpu_s_per_host"]), flush=True)
    return row


def report(results):
    lines = ["`make bench-self`, %s, %s, %d cores; no-op: median of %d, interleaved with the peer and the baseline; "
             "fresh hosts per side and size (overlay2 on a dedicated xfs disk)."
             % (results["date"], results["machine"], os.cpu_count() or 0, REPEAT), "",
             "| hosts | first: site.yml s | peer s | site/peer | no-op: site.yml s | peer s | site/peer | baseline s "
             "| load1 first / no-op |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in results["sizes"]:
        f, o = r["first"], r["noop"]
        lines.append("| %d | %.1f | %.1f | %.2f× | %.1f | %.1f | %.2f× | %.1f | %.1f / %.1f |" % (
            r["hosts"], f["site"]["s"], f["peer"]["s"], r["first_ratio"], o["site"]["s"], o["peer"]["s"],
            r["noop_ratio"], o["baseline"]["s"], f["site"]["load1"], o["site"]["load1"]))
    lines += ["", "Tasks per host that reach the host, and the controller's CPU seconds (user+sys of ansible-playbook "
              "and its children) per host:", "",
              "| hosts | first: site.yml | peer | no-op: site.yml | peer | baseline | CPU s/host first: site | peer "
              "| CPU s/host no-op: site | peer | baseline |",
              "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in results["sizes"]:
        f, o = r["first"], r["noop"]
        lines.append("| %d | %d | %d | %d | %d | %d | %.2f | %.2f | %.2f | %.2f | %.2f |" % (
            r["hosts"], f["site"]["tasks_per_host"], f["peer"]["tasks_per_host"], o["site"]["tasks_per_host"],
            o["peer"]["tasks_per_host"], o["baseline"]["tasks_per_host"], f["site"]["cpu_s_per_host"],
            f["peer"]["cpu_s_per_host"], o["site"]["cpu_s_per_host"], o["peer"]["cpu_s_per_host"],
            o["baseline"]["cpu_s_per_host"]))
    last = results["sizes"][-1]
    for side, key in (("site.yml first converge", ("first", "site")), ("peer first converge", ("first", "peer")),
                      ("site.yml no-op", ("noop", "site")), ("peer no-op", ("noop", "peer")),
                      ("baseline", ("noop", "baseline"))):
        lines.append("")
        lines.append("%s: %s" % (side, "; ".join(last[key[0]][key[1]]["tasks"]) or "nothing"))
    return lines


def main():
    os.makedirs(WORK, exist_ok=True)
    os.makedirs(RESULTS, exist_ok=True)
    with open("/proc/sys/fs/inotify/max_user_instances", encoding="ascii") as f:
        if int(f.read()) < 512:
            # every systemd host holds inotify instances; the default 128 stops systemd at ~27 hosts
            subprocess.run(["sysctl", "-q", "-w", "fs.inotify.max_user_instances=512"], check=False)
    inventory = os.path.join(WORK, "hosts.yml")
    baseline = os.path.join(WORK, "baseline.yml")
    with open(baseline, "w", encoding="utf-8") as f:
        f.write(BASELINE)
    lab_base = ["playbooks/lab.yml", "-e", "lab_name=" + LAB_NAME, "-e", "lab_inventory_file=" + inventory]
    if CONNECTION:
        lab_base += ["-e", "lab_connection=" + CONNECTION]
    results = {"date": datetime.datetime.now().strftime("%Y-%m-%d %H:%M"), "machine": platform.node(),
               "repeat": REPEAT, "sizes": []}
    print("bench-self: sizes %s, %d no-ops each (load %.2f)" % (SIZES, REPEAT, load1()), flush=True)
    for n in SIZES:
        results["sizes"].append(size_run(n, lab_base, inventory, baseline))
    lines = report(results)
    with open(os.path.join(RESULTS, "self.json"), "w", encoding="utf-8") as f:
        json.dump(results, f, indent=1)
    with open(os.path.join(RESULTS, "self.md"), "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
