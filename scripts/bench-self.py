# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The collection's own speed, measured side by side in one run (make bench-self):

- a no-op re-converge of site.yml against a baseline play doing the minimum (minimal facts and
  ``docker info``) on the same hosts;
- fleet scaling: converge time for 1, 4, 8, 16 lab hosts (forks = hosts);
- remote round-trips per host per converge: the tasks that ran a module on the host.

It brings up its own lab (``cow-scale``: vfs hosts, no disks), and removes it at the end.
Prints figures and writes bench-results/self.{json,md}; it asserts nothing about times.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WORK = os.path.join(ROOT, ".cache", "bench-self")
RESULTS = os.path.join(ROOT, "bench-results")
SIZES = [int(n) for n in os.environ.get("BENCH_SELF_SIZES", "1,4,8,16").split(",")]
REPEAT = int(os.environ.get("BENCH_SELF_REPEAT", "3"))
# The lab's connection to its hosts (the lab role's default when unset), to compare connection plugins.
CONNECTION = os.environ.get("BENCH_SELF_CONNECTION", "")
# Actions that run on the controller only (no round-trip to the host).
LOCAL_ACTIONS = {"ansible.builtin.debug", "ansible.builtin.set_fact", "ansible.builtin.assert", "ansible.builtin.fail",
                 "ansible.builtin.include_tasks", "ansible.builtin.include_role", "ansible.builtin.import_tasks",
                 "ansible.builtin.meta", "ansible.builtin.validate_argument_spec", "debug", "set_fact", "assert",
                 "include_tasks", "include_role", "meta", "validate_argument_spec"}
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


def playbook(args, env_extra=None, capture=False):
    # gathering=implicit: the baseline gathers its minimal facts every time (no fact cache help)
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg"), ANSIBLE_FORCE_COLOR="0", ANSIBLE_GATHERING="implicit")
    env.update(env_extra or {})
    t0 = time.perf_counter()
    proc = subprocess.run(["ansible-playbook"] + args, cwd=ROOT, env=env, check=False, universal_newlines=True,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    took = time.perf_counter() - t0
    if proc.returncode != 0:
        sys.exit("bench-self: ansible-playbook %s failed (rc=%d): %s%s"
                 % (" ".join(args), proc.returncode, proc.stdout[-2000:], proc.stderr[-2000:]))
    return took, proc.stdout if capture else ""


def round_trips(inventory, hosts, play):
    """Tasks that ran a module on each host, from the json callback of one run."""
    dummy, out = playbook(["-i", inventory, play, "-e", "target=" + ",".join(hosts), "-e", "backend_driver=vfs",
                           "--forks", str(len(hosts))],
                          env_extra={"ANSIBLE_STDOUT_CALLBACK": "ansible.posix.json", "ANSIBLE_CALLBACK_RESULT_FORMAT": "json"},
                          capture=True)
    data = json.loads(out[out.index("{"):])
    per_host = dict((h, []) for h in hosts)
    for play_ in data["plays"]:
        for task in play_["tasks"]:
            for host, result in task["hosts"].items():
                action = result.get("action") or ""
                if host in per_host and action not in LOCAL_ACTIONS and not result.get("skipped"):
                    per_host[host].append("%s (%s)" % (task["task"].get("name"), action))
    return per_host


def main():
    os.makedirs(WORK, exist_ok=True)
    os.makedirs(RESULTS, exist_ok=True)
    names = ["cow-s%02d" % i for i in range(1, max(SIZES) + 1)]
    with open("/proc/sys/fs/inotify/max_user_instances", encoding="ascii") as f:
        if int(f.read()) < 512:
            # every systemd host holds inotify instances; the default 128 stops systemd at ~27 hosts
            subprocess.run(["sysctl", "-q", "-w", "fs.inotify.max_user_instances=512"], check=False)
    fleet = os.path.join(WORK, "fleet.yml")
    inventory = os.path.join(WORK, "hosts.yml")
    baseline = os.path.join(WORK, "baseline.yml")
    with open(fleet, "w", encoding="utf-8") as f:
        json.dump({"lab_hosts": [{"name": n, "groups": ["vfs"]} for n in names]}, f)
    with open(baseline, "w", encoding="utf-8") as f:
        f.write(BASELINE)
    lab = ["playbooks/lab.yml", "-e", "lab_name=cow-scale", "-e", "lab_fleet=" + fleet, "-e", "lab_inventory_file=" + inventory]
    if CONNECTION:
        lab += ["-e", "lab_connection=" + CONNECTION]
    print("bench-self: starting %d lab hosts" % len(names), flush=True)
    up, dummy = playbook(lab)
    print("bench-self: %d hosts up in %.1f s" % (len(names), up), flush=True)
    results = {"hosts_up_s": up, "sizes": []}
    try:
        for n in SIZES:
            hosts = names[:n]
            common = ["-i", inventory, "-e", "target=" + ",".join(hosts), "-e", "backend_driver=vfs", "--forks", str(n)]
            first, dummy = playbook(common + ["site.yml"])
            noop, base = [], []
            for dummy_i in range(REPEAT):  # interleaved, so both see the same machine load
                noop.append(playbook(common + ["site.yml"])[0])
                base.append(playbook(common + [baseline])[0])
            row = {"hosts": n, "first_converge_s": first, "noop_converge_s": statistics.median(noop),
                   "baseline_s": statistics.median(base), "noop_runs": noop, "baseline_runs": base}
            row["noop_vs_baseline"] = row["noop_converge_s"] / row["baseline_s"]
            results["sizes"].append(row)
            print("bench-self: %2d hosts: first converge %.1f s, no-op re-converge %.1f s, baseline %.1f s (%.2fx)"
                  % (n, first, row["noop_converge_s"], row["baseline_s"], row["noop_vs_baseline"]), flush=True)
        one = results["sizes"][0]
        for row in results["sizes"]:
            row["noop_vs_one_host"] = row["noop_converge_s"] / one["noop_converge_s"]
            row["first_vs_one_host"] = row["first_converge_s"] / one["first_converge_s"]
        results["round_trips_site_tasks"] = round_trips(inventory, names[:1], "site.yml")[names[0]]
        results["round_trips_baseline_tasks"] = round_trips(inventory, names[:1], baseline)[names[0]]
        results["round_trips_site"] = len(results["round_trips_site_tasks"])
        results["round_trips_baseline"] = len(results["round_trips_baseline_tasks"])
    finally:
        playbook(lab + ["-e", "lab_state=absent"])
    lines = ["| hosts | first converge s | no-op re-converge s | baseline s | no-op / baseline | no-op / 1 host | first / 1 host |",
             "|---|---|---|---|---|---|---|"]
    for r in results["sizes"]:
        lines.append("| %d | %.1f | %.1f | %.1f | %.2f | %.2f | %.2f |" % (
            r["hosts"], r["first_converge_s"], r["noop_converge_s"], r["baseline_s"], r["noop_vs_baseline"],
            r["noop_vs_one_host"], r["first_vs_one_host"]))
    lines.append("")
    lines.append("Round-trips per host per converge (tasks that ran a module on the host): site.yml %d, baseline %d."
                 % (results["round_trips_site"], results["round_trips_baseline"]))
    lines.append("site.yml: " + "; ".join(results["round_trips_site_tasks"]))
    lines.append("baseline: " + "; ".join(results["round_trips_baseline_tasks"]))
    with open(os.path.join(RESULTS, "self.json"), "w", encoding="utf-8") as f:
        json.dump(results, f, indent=1)
    with open(os.path.join(RESULTS, "self.md"), "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
