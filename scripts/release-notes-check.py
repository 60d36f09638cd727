# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The next release's notes, rendered as a release would render them: ``antsibull-changelog release`` on a copy of
the checkout (the checkout itself is left alone), then its sections checked - one release summary, every shipped
module, filter and role announced as new (their version_added is the release's), no "Breaking Changes" for a
collection whose first release this is, no entry about the development harness (lab, make, molecule).

    python3 scripts/release-notes-check.py        # exit 1 and the reason when a check fails
"""

import os
import re
import shutil
import subprocess
import sys
import tempfile

import yaml

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))


def main():
    with open(os.path.join(ROOT, "galaxy.yml"), encoding="utf-8") as handle:
        version = yaml.safe_load(handle)["version"]
    with open(os.path.join(ROOT, "changelogs", "changelog.yaml"), encoding="utf-8") as handle:
        first = not (yaml.safe_load(handle) or {}).get("releases")
    work = tempfile.mkdtemp(prefix="release-notes-")
    try:
        files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=ROOT, check=True,
                               stdout=subprocess.PIPE, text=True).stdout.split()
        for name in files:
            if os.path.isfile(os.path.join(ROOT, name)):
                os.makedirs(os.path.dirname(os.path.join(work, name)) or work, exist_ok=True)
                shutil.copy2(os.path.join(ROOT, name), os.path.join(work, name))
        run = subprocess.run(["antsibull-changelog", "release", "--version", version, "--date", "2000-01-01"], cwd=work,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, check=False)
        if run.returncode != 0:
            return fail("antsibull-changelog release failed:\n" + run.stdout)
        with open(os.path.join(work, "CHANGELOG.rst"), encoding="utf-8") as handle:
            notes = handle.read()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    sections = dict((m.group(1), m.start()) for m in re.finditer(r"^([A-Z][^\n]*)\n[-~]+\n", notes, re.M))
    problems = []
    if notes.count("Release Summary\n---") != 1:
        problems.append("not exactly one Release Summary")
    modules = sorted(f[:-3] for f in os.listdir(os.path.join(ROOT, "plugins", "modules")) if f.endswith(".py"))
    filters = sorted(f[:-3] for f in os.listdir(os.path.join(ROOT, "plugins", "filter")) if f.endswith(".py"))
    roles = ["backend", "benchmark"]
    for kind, names, title in (("module", modules, "New Modules"), ("filter", filters, "Filter"), ("role", roles, "New Roles")):
        if first and title not in sections:
            problems.append("no %s section" % title)
        for name in names:
            if first and not re.search(r"^- cow\.storage\.%s - " % re.escape(name), notes, re.M):
                problems.append("the %s %s is not announced (its version_added is not %s)" % (kind, name, version))
    if first and "Breaking Changes / Porting Guide" in sections:
        problems.append("Breaking Changes in the first release")
    harness = [line for line in notes.splitlines() if re.match(r"^- (lab role|make |molecule|\.ci)", line)]
    problems.extend("an entry about the development harness: %s" % line[:100] for line in harness)
    if problems:
        return fail("release notes of %s:\n  " % version + "\n  ".join(problems))
    print("release notes of %s: %s; %d modules, %d filters, %d roles announced" % (
        version, ", ".join(sorted(sections)), len(modules), len(filters), len(roles)))
    return 0


def fail(msg):
    print(msg, file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
