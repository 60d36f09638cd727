# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The pages of docs/ on the collection's docs site: docs/<page>.md -> docs/docsite/rst/<page>.rst.

The Markdown in docs/ is the one source (it reads well on a forge and in an editor); antsibull-docs takes
extra pages in reStructuredText only (docs/docsite/extra-docs.yml), so the pages listed there are written
from the Markdown by this script and shipped in the tarball.

    python3 scripts/md2rst.py           write docs/docsite/rst/<page>.rst for every page in extra-docs.yml
    python3 scripts/md2rst.py --check   fail (exit 1) naming each page whose .rst differs from its .md
                                        (make test, phase docs: scripts/docs.sh lint)

The subset of Markdown the pages use, and nothing else: ATX headings (#, ##, ###), paragraphs, "- " and
"1. " lists with indented continuation lines, pipe tables (a header row and a |---| rule), fenced code
blocks, `code`, **strong**, *emphasis*, [text](target) links (to another page of docs/: a reference to its
label; to a URL: a link; to a file of the repository: its path as a literal) and images (left out, with
their alternative text, as the docs site does not carry the images). Anything else fails the conversion
with the line, instead of rendering wrongly.
"""

import pathlib
import re
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
RST = DOCS / "docsite" / "rst"
EXTRA = DOCS / "docsite" / "extra-docs.yml"
LABEL = "ansible_collections.cow.storage.docsite.%s"
HEAD = ".. Written by scripts/md2rst.py from docs/%s.md: edit that file, then run the script.\n\n"
UNDERLINE = {1: "=", 2: "-", 3: "~", 4: "^"}


class Unsupported(Exception):
    pass


def label(page):
    return LABEL % page.replace("-", "_")


def pages():
    """The pages extra-docs.yml lists (each toctree entry names docs/docsite/rst/<page>.rst), in its order."""
    return re.findall(r"^\s*- +([a-z][a-z0-9_-]*)\s*$", EXTRA.read_text(), re.M)


def escape(text):
    """Plain text: Markdown's backslash escapes resolved, then what reStructuredText would read as markup escaped."""
    text = re.sub(r"\\([!-/:-@\[-`{-~])", r"\1", text)
    return re.sub(r"([\\*`|_])", r"\\\1", text)


def _token_re():
    return re.compile(
        r"(?P<code>`[^`]+`)"
        r"|(?P<image>!\[(?P<alt>[^\]]*)\]\((?P<src>[^)\s]+)\))"
        r"|(?P<link>\[(?P<text>[^\]]+)\]\((?P<target>[^)\s]+)\))"
        r"|(?P<strong>\*\*(?P<stext>[^*]+)\*\*)"
        r"|(?P<em>(?<![\w*])\*(?P<etext>[^*\s][^*]*)\*(?![\w*]))"
    )


TOKEN = _token_re()


def _link(text, target):
    if re.match(r"[a-z]+://", target):
        return "`%s <%s>`__" % (escape(text).replace("<", r"\<"), target)
    page = re.match(r"(?:\./|docs/)?([a-z0-9_-]+)\.md(?:#.*)?$", target)
    if page:
        return ":ref:`%s <%s>`" % (text.replace("`", ""), label(page.group(1)))
    if target.startswith("#"):
        return escape(text)
    return "%s (``%s``)" % (escape(text), target.lstrip("./").replace("../", ""))


def inline(text):
    """One line or cell of Markdown inline markup, as reStructuredText."""
    out, pos = [], 0
    for m in TOKEN.finditer(text):
        out.append(("text", text[pos:m.start()]))
        if m.group("code"):
            out.append(("markup", "``%s``" % m.group("code")[1:-1].strip()))
        elif m.group("image"):
            out.append(("text", "(image: %s)" % m.group("alt")))
        elif m.group("link"):
            out.append(("markup", _link(m.group("text"), m.group("target"))))
        elif m.group("strong"):
            out.append(("markup", "**%s**" % escape(m.group("stext"))))
        else:
            out.append(("markup", "*%s*" % escape(m.group("etext"))))
        pos = m.end()
    out.append(("text", text[pos:]))
    rendered = ""
    for i, (kind, piece) in enumerate(out):
        if kind == "text":
            rendered += escape(piece)
            continue
        # Inline markup must start and end at a word boundary: glue it to a letter with an escaped space.
        if rendered and not re.search(r"[\s(\[{<'\"/:-]$", rendered):
            rendered += "\\ "
        rendered += piece
        after = out[i + 1][1] if i + 1 < len(out) else ""
        if after and not re.match(r"[\s)\]}>'\".,;:!?/-]", after):
            rendered += "\\ "
    return rendered


def _cells(line):
    line = line.strip()
    if not (line.startswith("|") and line.endswith("|")):
        raise Unsupported("a table row must start and end with |")
    cells, cur, code = [], "", False
    for ch in line[1:-1]:
        if ch == "`":
            code = not code
        if ch == "|" and not code:
            cells.append(cur.strip())
            cur = ""
        else:
            cur += ch
    cells.append(cur.strip())
    return cells


def _table(rows):
    header, body = _cells(rows[0]), [_cells(r) for r in rows[2:]]
    out = [".. list-table::", "   :header-rows: 1", ""]
    for row in [header] + body:
        if len(row) != len(header):
            raise Unsupported("a table row has %d cells, its header %d" % (len(row), len(header)))
        for j, cell in enumerate(row):
            text = inline(cell) or "\\ "
            if re.fullmatch(r"[!-/:-@\[-`{-~]+", text):
                text = "\\" + text  # a cell of punctuation alone would read as a section rule
            out.append(("   * - " if j == 0 else "     - ") + text)
    return out + [""]


def _list(lines, i):
    """The list that starts at lines[i] (up to the next blank line), nested by indentation."""
    out, stack, depth, previous = [], [], 0, None
    while i < len(lines) and lines[i].strip():
        item = re.match(r"(\s*)(- |\d+\. )(.*)$", lines[i])
        if not item:
            raise Unsupported("a list line must start with '- ' or 'N. ', or continue an item")
        col = len(item.group(1))
        while stack and stack[-1][0] >= col:
            stack.pop()
        indent = stack[-1][1] if stack else 0
        marker = "- " if item.group(2) == "- " else "#. "
        if out and (len(stack) != depth or marker != previous):
            out.append("")  # a list starts or ends (nested, or of another kind): a blank line in reStructuredText
        depth, previous = len(stack), marker
        text, i = [item.group(3)], i + 1
        while (i < len(lines) and lines[i].strip() and not re.match(r"\s*(- |\d+\. )", lines[i])
               and len(lines[i]) - len(lines[i].lstrip()) >= col + len(item.group(2))):
            text.append(lines[i].strip())
            i += 1
        out.append(" " * indent + marker + inline(" ".join(text)))
        stack.append((col, indent + len(marker)))
    return out + [""]


def convert(md, page):
    """The text of docs/<page>.md as the reStructuredText of its docs-site page."""
    lines = md.splitlines()
    out = [HEAD % page + ".. _%s:" % label(page), ""]
    i = 0
    while i < len(lines):
        line, start = lines[i], i
        try:
            if not line.strip():
                i += 1
                continue
            heading = re.match(r"(#{1,4}) (.+)$", line)
            if heading:
                title = inline(heading.group(2))
                level = len(heading.group(1))
                out += [title, UNDERLINE[level] * len(title), ""]
                i += 1
                continue
            if line.startswith("```"):
                lang = line[3:].strip()
                block, i = [], i + 1
                while i < len(lines) and not lines[i].startswith("```"):
                    block.append(lines[i])
                    i += 1
                if i == len(lines):
                    raise Unsupported("a code block is not closed")
                i += 1
                out += [".. code-block:: %s" % (lang or "text"), ""]
                out += [("   " + b) if b.strip() else "" for b in block] + [""]
                continue
            if line.startswith("|"):
                rows = []
                while i < len(lines) and lines[i].startswith("|"):
                    rows.append(lines[i])
                    i += 1
                if len(rows) < 2 or not re.match(r"^\|(\s*:?-+:?\s*\|)+\s*$", rows[1]):
                    raise Unsupported("a table needs a header row and a |---| rule")
                out += _table(rows)
                continue
            if re.match(r"(\s*)(- |\d+\. )", line):
                out += _list(lines, i)
                while i < len(lines) and lines[i].strip():
                    i += 1
                continue
            if line.startswith((" ", ">", "<")):
                raise Unsupported("indented text, quotes and HTML are not converted")
            para = []
            # as in CommonMark, only a bullet or an ordered item numbered 1 interrupts a paragraph ("7. " wrapped to the
            # start of a line continues it)
            while i < len(lines) and lines[i].strip() and not re.match(r"(#{1,4} |```|\||\s*(- |1\. ))", lines[i]):
                para.append(lines[i].strip())
                i += 1
            out += [inline(" ".join(para)), ""]
        except Unsupported as exc:
            raise SystemExit("md2rst: docs/%s.md line %d: %s: %r" % (page, start + 1, exc, lines[start]))
    while out and not out[-1]:
        out.pop()
    return "\n".join(out) + "\n"


def main(argv):
    check = "--check" in argv
    stale = []
    listed = pages()
    if not listed:
        raise SystemExit("md2rst: %s lists no page" % EXTRA.relative_to(ROOT))
    for page in listed:
        src = DOCS / (page + ".md")
        if not src.is_file():
            raise SystemExit("md2rst: %s lists %s, but docs/%s.md does not exist" % (EXTRA.relative_to(ROOT), page, page))
        text = convert(src.read_text(), page)
        dest = RST / (page + ".rst")
        if check:
            if not dest.is_file() or dest.read_text() != text:
                stale.append(str(dest.relative_to(ROOT)))
        else:
            RST.mkdir(parents=True, exist_ok=True)
            dest.write_text(text)
            print("md2rst: wrote %s" % dest.relative_to(ROOT))
    known = {p + ".rst" for p in listed}
    extra = sorted(p.name for p in RST.glob("*.rst") if p.name not in known) if RST.is_dir() else []
    if extra:
        stale += ["docs/docsite/rst/%s (not in extra-docs.yml)" % name for name in extra]
    if stale:
        print("md2rst: out of date with docs/*.md (run python3 scripts/md2rst.py): " + ", ".join(stale), file=sys.stderr)
        return 1
    if check:
        print("md2rst: the docs site's pages match docs/*.md (%s)" % ", ".join(listed))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
