# -*- coding: utf-8 -*-
# Copyright: cow.storage contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""TOML read with the standard library (tomllib) and edited in place, table by table.

A table's keys are replaced, added or removed in the text itself, so comments, key order and every other table
stay as they were; :func:`edit_config` parses the result again and refuses (naming config_path) unless it equals
the original document plus exactly the requested edits.
"""

from __future__ import annotations

__metaclass__ = type  # pylint: disable=invalid-name

import copy
import json
import re

from ansible_collections.cow.storage.plugins.module_utils._errors import Refusal

_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")

try:
    import tomllib as _toml  # Python 3.11+
except ImportError:  # pragma: no cover - depends on the managed host's Python
    try:
        import tomli as _toml
    except ImportError:
        _toml = None


def toml_available():
    return _toml is not None


def load_toml(text):
    """TOML text -> dict; ValueError with the parser's message when it is not valid TOML."""
    if _toml is None:
        raise ValueError("no TOML parser on this host (Python 3.11+ tomllib, or the tomli package, is needed)")
    try:
        return _toml.loads(text)
    except Exception as exc:  # tomllib.TOMLDecodeError is a ValueError; tomli's too
        raise ValueError(str(exc)) from None


def split_key(text):
    """A TOML dotted key (``plugins."io.containerd.grpc.v1.cri".containerd``) -> list of its keys."""
    keys, i, text = [], 0, text.strip()
    while i < len(text):
        while i < len(text) and text[i] in " \t":
            i += 1
        if i < len(text) and text[i] in "\"'":
            quote = text[i]
            end = i + 1
            while end < len(text) and text[end] != quote:
                end += 2 if (quote == '"' and text[end] == "\\") else 1
            if end >= len(text):
                raise ValueError("unterminated quoted key in %r" % text)
            raw = text[i + 1:end]
            keys.append(json.loads('"%s"' % raw) if quote == '"' else raw)
            i = end + 1
        else:
            end = i
            while end < len(text) and text[end] not in ". \t":
                end += 1
            keys.append(text[i:end])
            i = end
        while i < len(text) and text[i] in " \t":
            i += 1
        if i < len(text):
            if text[i] != ".":
                raise ValueError("unexpected %r in key %r" % (text[i], text))
            i += 1
    return keys


def format_key(keys):
    return ".".join(k if _BARE_KEY.match(k) else json.dumps(k) for k in keys)


def toml_value(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    raise TypeError("cannot write %r as a TOML value" % (value,))


def _header(line):
    """``[a."b.c"]`` -> ["a", "b.c"]; None for anything else (arrays of tables included)."""
    stripped = line.strip()
    if not stripped.startswith("[") or stripped.startswith("[["):
        return None
    body = stripped[1:]
    # drop a trailing comment and the closing bracket
    match = re.match(r'^((?:[^\]"\']|"(?:[^"\\]|\\.)*"|\'[^\']*\')*)\]\s*(#.*)?$', body)
    if not match:
        return None
    try:
        return split_key(match.group(1))
    except ValueError:
        return None


def _line_key(line):
    """The key of a ``key = value`` line (first key only for dotted keys), or None."""
    stripped = line.strip()
    if not stripped or stripped.startswith("#") or stripped.startswith("["):
        return None
    match = re.match(r'^("(?:[^"\\]|\\.)*"|\'[^\']*\'|[A-Za-z0-9_-]+)\s*=', stripped)
    if not match:
        return None
    return split_key(match.group(1))[0]


def _sections(lines):
    """Header line indexes: [(index, path)], skipping lines inside multi-line strings."""
    found, in_multi = [], None
    for index, line in enumerate(lines):
        if in_multi:
            if line.count(in_multi) % 2 == 1:
                in_multi = None
            continue
        for quote in ('"""', "'''"):
            if line.count(quote) % 2 == 1:
                in_multi = quote
                break
        path = _header(line)
        if path is not None:
            found.append((index, path))
    return found


def _indent_for(lines, sections, depth):
    for index, path in sections:
        if len(path) == depth:
            return re.match(r"^\s*", lines[index]).group(0)
    return ""


def set_table_keys(text, path, values):
    """Set (or, for a value of None, remove) ``values`` in the table ``path`` of the TOML ``text``; returns the new text.

    Only the lines of the owned keys change; a missing table is appended at the end. The caller checks the result by
    parsing it (:func:`edit_config`).
    """
    lines = text.splitlines(True)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    sections = _sections(lines)
    start = next((i for i, p in sections if p == list(path)), None)
    if start is None:
        wanted = [(k, v) for k, v in values.items() if v is not None]
        if not wanted:
            return "".join(lines)
        indent = _indent_for(lines, sections, len(path))
        if not indent and len(path) > 1 and any(p[:1] == list(path[:1]) and len(p) > 1 and lines[i].startswith(" ")
                                                for i, p in sections):
            indent = "  " * (len(path) - 1)
        new = ["\n"] if lines and lines[-1].strip() else []
        new.append("%s[%s]\n" % (indent, format_key(path)))
        new.extend("%s  %s = %s\n" % (indent, format_key([k]), toml_value(v)) for k, v in wanted)
        return "".join(lines + new)
    end = next((i for i, dummy in sections if i > start), len(lines))
    body = list(range(start + 1, end))
    header_indent = re.match(r"^\s*", lines[start]).group(0)
    key_lines = [i for i in body if _line_key(lines[i]) is not None]
    indent = re.match(r"^\s*", lines[key_lines[0]]).group(0) if key_lines else header_indent + "  "
    replace, drop, add = {}, set(), []
    for key, value in values.items():
        at = next((i for i in key_lines if _line_key(lines[i]) == key), None)
        if value is None:
            if at is not None:
                drop.add(at)
        elif at is not None:
            own_indent = re.match(r"^\s*", lines[at]).group(0)
            replace[at] = "%s%s = %s\n" % (own_indent, format_key([key]), toml_value(value))
        else:
            add.append("%s%s = %s\n" % (indent, format_key([key]), toml_value(value)))
    insert_after = key_lines[-1] if key_lines else start
    out = []
    for index, line in enumerate(lines):
        if index in drop:
            continue
        out.append(replace.get(index, line))
        if index == insert_after:
            out.extend(add)
    return "".join(out)


def remove_table(text, path):
    """Remove the ``[path]`` header and its body (up to the next header)."""
    lines = text.splitlines(True)
    sections = _sections(lines)
    start = next((i for i, p in sections if p == list(path)), None)
    if start is None:
        return text
    end = next((i for i, dummy in sections if i > start), len(lines))
    while end > start + 1 and not lines[end - 1].strip():
        end -= 1  # keep the blank lines that separate the next table
    out = lines[:start] + lines[end:]
    if 0 < start and not out[start - 1].strip() and (start == len(out) or not out[start].strip()):
        del out[start - 1]
    return "".join(out)


def _get(doc, path):
    node = doc
    for key in path:
        if not isinstance(node, dict) or key not in node:
            return None
        node = node[key]
    return node


def _merged(doc, path, values):
    result = copy.deepcopy(doc)
    node = result
    for key in path:
        node = node.setdefault(key, {})
    for key, value in values.items():
        if value is None:
            node.pop(key, None)
        else:
            node[key] = value
    return result


def edit_config(text, doc, edits, config_path):
    """Apply ``edits`` ([(path, values)], values None = remove the table) to ``text``; verify by parsing the result.

    The parsed result must equal the parsed original with exactly these edits, else Refusal naming config_path.
    """
    expected, new = copy.deepcopy(doc), text
    for path, values in edits:
        if values is None:
            new = remove_table(new, path)
            parent = _get(expected, path[:-1])
            if isinstance(parent, dict):
                parent.pop(path[-1], None)
        else:
            new = set_table_keys(new, path, values)
            expected = _merged(expected, path, values)
    try:
        got = load_toml(new)
    except ValueError as exc:
        got = "unparsable (%s)" % exc
    if got != expected:
        tables = ", ".join("[%s]" % format_key(p) for p, dummy in edits)
        raise Refusal("config_path: %s defines %s in a form this module does not edit in place (an inline table, dotted "
                      "keys or a multi-line value); move those keys into a plain [table] section; nothing was changed"
                      % (config_path, tables))
    return new
