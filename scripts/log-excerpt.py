"""Why a phase failed, in a few lines, from its log (make test prints this last, where CI shows the output's end).

For an Ansible failure (molecule writes the playbooks' output boxed and wrapped): the failed task, where it is, and
the result's msg, rc, and the ends of stderr and stdout, read back from the wrapped JSON. Otherwise the last error
lines. usage: log-excerpt.py LOG
"""

import json
import re
import sys

import yaml

ANSI = re.compile(r"\x1b\[[0-9;]*m")
ERROR_LINE = re.compile(r"fatal:|FAILED!|\[ERROR\]|^ERROR|Error|error:|assert|FAILED ")


def lines_of(path):
    with open(path, encoding="utf-8", errors="replace") as handle:
        return [ANSI.sub("", line.rstrip("\n")) for line in handle]


def unboxed(line):
    """A line without molecule's box prefix ("  │ ") and its indentation."""
    return re.sub(r"^\s*│\s?", "", line)


def result_of(lines, start):
    """The JSON after "=> " on line start, joined back from its wrapped lines (None if it does not parse): a line
    as wide as the box was cut inside a word, a shorter one at a space."""
    block = [unboxed(line) for line in lines[start:start + 400]]
    if not block[0].split("=> ", 1)[1].strip():  # callback_result_format = yaml: an indented block follows
        body = []
        for line in block[1:]:
            if line.strip() and not line.startswith(" "):
                break
            body.append(line)
        try:
            return yaml.safe_load("\n".join(body))
        except yaml.YAMLError:
            return None
    width = max(len(line) for line in block[:40])
    text = block[0].split("=> ", 1)[1]
    for prev, line in zip(block, block[1:]):
        try:
            return json.loads(text)
        except ValueError:
            text += ("" if len(prev) >= width - 1 else " ") + line.strip()
    return None


def tail(value, count):
    value = value if isinstance(value, str) else "\n".join(map(str, value or []))
    return [line for line in value.splitlines() if line.strip()][-count:]


def ignored(lines, at):
    """The failure at line at was ignored (ignore_errors: "...ignoring" before the next task)."""
    for line in lines[at + 1:]:
        if re.search(r"(TASK|RUNNING HANDLER|PLAY) \[", line):
            return False
        if "...ignoring" in line:
            return True
    return False


def excerpt(lines):
    fatal = [i for i, line in enumerate(lines)
             if re.match(r"(fatal|failed): \[[^]]+\].* =>\s*(\{|$)", unboxed(line).strip()) and not ignored(lines, i)]
    if not fatal:
        out = [line for line in lines if ERROR_LINE.search(line) and "failed=0" not in line][-4:]
        idem = [i for i, line in enumerate(lines) if "Idempotence test failed" in line]
        return out + (lines[idem[0] + 1:idem[0] + 6] if idem else [])
    at = fatal[0]  # the first failure: later ones are often its consequences (cleanup, destroy)
    out = []
    task = next((unboxed(lines[i]) for i in range(at, -1, -1) if re.search(r"(TASK|RUNNING HANDLER) \[", lines[i])), "")
    origin = next((unboxed(lines[i]) for i in range(at, max(at - 15, -1), -1) if "Origin: " in lines[i]), "")
    out += [task.strip(" *"), origin.strip(), unboxed(lines[at]).split(" => ", 1)[0].strip()]
    result = result_of(lines, at)
    if result is None:
        out += [unboxed(line) for line in lines[at + 1:at + 8]]
    else:
        out.append("msg: %s" % str(result.get("msg", ""))[:400])
        if "rc" in result:
            out.append("rc: %s" % result["rc"])
        for key in ("stderr", "stdout"):
            out += ["%s: %s" % (key, ANSI.sub("", line)[:300]) for line in tail(result.get(key, ""), 8)]
    return [line for line in out if line]


def main():
    for line in excerpt(lines_of(sys.argv[1])):
        print("  " + line[:400])


if __name__ == "__main__":
    main()
