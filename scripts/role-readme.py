# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Keep each role README's variable tables equal to its meta/argument_specs.yml.

Between ``<!-- BEGIN argument_specs -->`` and ``<!-- END argument_specs -->`` a role's README.md
holds one table per entry point, generated here from the argument specs (the one source of truth,
also what ``ansible-doc -t role`` shows).

  python scripts/role-readme.py            rewrite the tables of every role under roles/
  python scripts/role-readme.py --check    exit 1 naming each README whose tables differ (make test, galaxy phase)
"""
import pathlib
import re
import sys

import yaml

ROOT = pathlib.Path(__file__).resolve().parent.parent
BEGIN, END = "<!-- BEGIN argument_specs -->", "<!-- END argument_specs -->"
# Ansible markup (O(), V(), C(), E(), I(), M()) as Markdown code
MARKUP = re.compile(r"\b[OVCEIM]\(([^()]*(?:\([^()]*\)[^()]*)*)\)")


def text(value):
    if isinstance(value, list):
        value = " ".join(str(v) for v in value)
    value = MARKUP.sub(lambda m: "`%s`" % m.group(1), str(value)).replace("\n", " ")
    return re.sub(r"\s+", " ", value).replace("|", "\\|").strip()


def default(opt):
    if "default" not in opt:
        return "*(required)*" if opt.get("required") else ""
    value = opt["default"]
    if isinstance(value, str):
        return "`%s`" % value if value else '`""`'
    return "`%s`" % yaml.safe_dump(value, default_flow_style=True).strip().replace("\n...", "")


def tables(specs):
    out = []
    for entry, spec in specs["argument_specs"].items():
        out.append("### Entry point `%s`" % entry)
        out.append("")
        out.append(text(spec.get("short_description", "")))
        out.append("")
        out.append("| variable | type | default | choices | description |")
        out.append("|---|---|---|---|---|")
        for name, opt in spec.get("options", {}).items():
            typ = opt.get("type", "str")
            if opt.get("elements"):
                typ += " of " + opt["elements"]
            choices = ", ".join("`%s`" % c for c in opt.get("choices", []))
            out.append("| `%s` | %s | %s | %s | %s |" % (name, typ, default(opt), choices, text(opt.get("description", ""))))
        out.append("")
    return "\n".join(out).rstrip() + "\n"


def main(check):
    stale = []
    for spec_file in sorted(ROOT.glob("roles/*/meta/argument_specs.yml")):
        role = spec_file.parent.parent
        readme = role / "README.md"
        if not readme.exists():
            stale.append("%s: missing" % readme.relative_to(ROOT))
            continue
        body = readme.read_text()
        if BEGIN not in body or END not in body:
            stale.append("%s: no %s ... %s markers" % (readme.relative_to(ROOT), BEGIN, END))
            continue
        head, rest = body.split(BEGIN, 1)
        tail = rest.split(END, 1)[1]
        new = head + BEGIN + "\n" + tables(yaml.safe_load(spec_file.read_text())) + END + tail
        if new != body:
            if check:
                stale.append("%s: variables differ from meta/argument_specs.yml" % readme.relative_to(ROOT))
            else:
                readme.write_text(new)
                print("updated", readme.relative_to(ROOT))
    for s in stale:
        print("role README:", s, file=sys.stderr)
    if stale and check:
        print("role README: run scripts/role-readme.py to regenerate the tables", file=sys.stderr)
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main("--check" in sys.argv[1:]))
