# -*- coding: utf-8 -*-
# Copyright: cow.storage contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pure parsers for what the container engine and the kernel report about storage (docker info, image and container
listings, the engine's journal, daemon.json, /proc/filesystems, blkid, xfs_info, du), each tested on captured output."""

from __future__ import annotations

__metaclass__ = type  # pylint: disable=invalid-name

import json
import re
import shlex

DEFAULT_DATA_ROOT = "/var/lib/docker"


def parse_proc_filesystems(text):
    """``/proc/filesystems`` -> sorted list of filesystem names (block and virtual)."""
    names = set()
    for line in text.splitlines():
        fields = line.split()
        if fields:
            names.add(fields[-1])
    return sorted(names)


def parse_blkid_export(text):
    """``blkid -o export DEV`` -> dict of its KEY=VALUE lines."""
    out = {}
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep:
            out[key.strip()] = value.strip()
    return out


def _bool(value):
    if value is None:
        return None
    return str(value).strip().lower() == "true"


def parse_docker_info(text):
    """``docker info --format '{{json .}}'`` -> the storage facts cow.storage works with."""
    info = json.loads(text)
    status = dict((k, v) for k, v in (info.get("DriverStatus") or []) if k)
    driver_type = status.get("driver-type", "")
    return {
        "running": bool(info.get("ServerVersion")),
        "version": info.get("ServerVersion") or None,
        "driver": info.get("Driver"),
        "image_store": "containerd" if driver_type.startswith("io.containerd.snapshotter") else "graphdriver",
        "backing_filesystem": status.get("Backing Filesystem"),
        "d_type": _bool(status.get("Supports d_type")),
        "driver_status": status,
        "data_root": info.get("DockerRootDir") or DEFAULT_DATA_ROOT,
        "images": info.get("Images", 0),
        "containers": info.get("Containers", 0),
        "containers_running": info.get("ContainersRunning", 0),
        "security_options": info.get("SecurityOptions") or [],
        "warnings": info.get("Warnings") or [],
    }


def parse_xfs_info_ftype(text):
    """``xfs_info MOUNTPOINT`` -> True/False for ``ftype=1``/``ftype=0`` (d_type), None when not reported."""
    for token in text.replace(",", " ").split():
        if token.startswith("ftype="):
            return token.split("=", 1)[1] == "1"
    return None


def parse_json_lines(text):
    """Output of ``docker ... --format '{{json .}}'`` (one object a line) -> list of dicts."""
    return [json.loads(line) for line in text.splitlines() if line.strip().startswith("{")]


def images_from_ls(text):
    """``docker image ls --no-trunc --format '{{json .}}'`` -> sorted [{"name": "repo:tag", "id": "sha256:..."}]."""
    out = []
    for item in parse_json_lines(text):
        out.append({"name": "%s:%s" % (item.get("Repository", "<none>"), item.get("Tag", "<none>")), "id": item.get("ID")})
    return sorted(out, key=lambda i: (i["name"], i["id"] or ""))


def containers_from_ps(text):
    """``docker ps -a --no-trunc --format '{{json .}}'`` -> sorted [{"name", "id", "state", "image"}]."""
    out = []
    for item in parse_json_lines(text):
        out.append({"name": item.get("Names"), "id": item.get("ID"), "state": item.get("State"), "image": item.get("Image")})
    return sorted(out, key=lambda c: c["name"] or "")


def _image_rows(item):
    """The ``repo:tag`` rows ``docker image ls`` shows for one image of the API (tags; else repositories known
    by digest only, with tag ``<none>``; else ``<none>:<none>``)."""
    rows = []
    for ref in item.get("RepoTags") or []:
        repo, sep, tag = ref.rpartition(":")
        if sep and repo and "/" not in tag and ref != "<none>:<none>":
            rows.append("%s:%s" % (repo, tag))
    tagged = set(row.rpartition(":")[0] for row in rows)
    for ref in item.get("RepoDigests") or []:
        repo, sep, digest = ref.partition("@")
        if sep and repo != "<none>" and digest != "<none>" and repo not in tagged:
            tagged.add(repo)
            rows.append("%s:<none>" % repo)
    return rows or ["<none>:<none>"]


def images_from_api(text):
    """Engine API ``GET /images/json`` -> the same list as :func:`images_from_ls` (one row per repo:tag)."""
    out = []
    for item in json.loads(text) or []:
        for name in _image_rows(item):
            out.append({"name": name, "id": item.get("Id")})
    return sorted(out, key=lambda i: (i["name"], i["id"] or ""))


def containers_from_api(text):
    """Engine API ``GET /containers/json?all=1`` -> the same list as :func:`containers_from_ps` (names as the CLI
    shows them: without the leading slash, link aliases left out, comma-joined)."""
    out = []
    for item in json.loads(text) or []:
        names = ",".join(n[1:] for n in item.get("Names") or [] if n.startswith("/") and n.count("/") == 1)
        out.append({"name": names, "id": item.get("Id"), "state": item.get("State"), "image": item.get("Image")})
    return sorted(out, key=lambda c: c["name"] or "")


def parse_du_bytes(text):
    """``du -sb PATH`` -> size in bytes (0 when unparsable)."""
    fields = text.split()
    return int(fields[0]) if fields and fields[0].isdigit() else 0


def engine_error_from_journal(text):
    """The engine's own start error from ``journalctl -u docker -o cat``: the last ``failed to start daemon``
    or fatal/error line, else the last line."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    for line in reversed(lines):
        if "failed to start daemon" in line or "level=fatal" in line or "unable to configure the Docker daemon" in line:
            return line
    for line in reversed(lines):
        if "level=error" in line:
            return line
    return lines[-1] if lines else None


def engine_error_from_journal_json(text):
    """``journalctl -u docker -o json`` -> dockerd's own start error (systemd's summary lines left out), or None."""
    lines = []
    for line in text.splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if entry.get("SYSLOG_IDENTIFIER") == "dockerd" or entry.get("_COMM") == "dockerd":
            message = entry.get("MESSAGE")
            if isinstance(message, list):  # journald gives non-UTF-8 messages as byte arrays
                message = bytes(message).decode("utf-8", "replace")
            if message and message.strip():
                lines.append(message.strip())
    return engine_error_from_journal("\n".join(lines)) if lines else None


def rejected_key(error):
    """The daemon.json key an engine error names, where it names one (None otherwise)."""
    for pattern in (r"directives don't match any configuration option: ([^\s,]+)",
                    r"json: unknown field \"([^\"]+)\"", r"invalid value for ([^\s:]+)",
                    r"conflicting options?: ([^\s:(]+)"):
        found = re.search(pattern, error or "")
        if found:
            return found.group(1).strip("'\"")
    return None


def container_from_config(text):
    """``<root>/containers/<id>/config.v2.json`` -> ``{"id", "name", "driver"}`` (the driver that made it)."""
    data = json.loads(text)
    return {"id": data.get("ID"), "name": (data.get("Name") or "").lstrip("/"), "driver": data.get("Driver")}


def parse_daemon_json(text):
    """daemon.json text -> dict; ``ValueError`` with a readable reason when it is not a JSON object.
    An empty (or whitespace-only) file is an empty configuration, as the engine treats it."""
    if not text.strip():
        return {}
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise ValueError("it is not valid JSON (%s)" % exc) from None
    if not isinstance(value, dict):
        raise ValueError("it is valid JSON but not an object")
    return value


def image_identity(image_id, fetch, arch="amd64"):
    """An image's identity across image stores: the digest of its config, which is the graph driver's image ID. With
    the containerd image store the ID is the digest of a manifest (or an index of manifests) whose config that is.
    ``fetch(digest)`` returns a blob of containerd's content store as text, or None when it has no such blob (a graph
    driver's ID is no manifest there): the ID is then its own identity."""
    digest = image_id
    for dummy in range(3):  # index -> manifest -> config
        text = fetch(digest)
        try:
            doc = json.loads(text) if text else None
        except ValueError:
            doc = None
        if not isinstance(doc, dict):
            return digest
        if isinstance(doc.get("config"), dict) and doc["config"].get("digest"):
            return doc["config"]["digest"]
        manifests = [m for m in doc.get("manifests") or [] if isinstance(m, dict) and m.get("digest")]
        if not manifests:
            return digest
        mine = [m for m in manifests if (m.get("platform") or {}).get("architecture") == arch
                and (m.get("platform") or {}).get("os", "linux") == "linux"]
        digest = (mine or manifests)[0]["digest"]
    return digest


# --- engine configuration outside daemon.json: the unit's ExecStart, its drop-ins, its environment files ----------
# dockerd's flags that set what daemon.json's keys set (dockerd refuses to start when a flag and the file both set
# one: "the following directives are specified both as a flag and in the configuration file").
ENGINE_FLAGS = {"--storage-driver": "storage-driver", "-s": "storage-driver", "--data-root": "data-root", "-g": "data-root",
                "--graph": "data-root", "--storage-opt": "storage-opts", "--config-file": "config-file"}


def _logical_lines(text):
    """``(line number, text)`` of a systemd unit or environment file, backslash continuations joined."""
    out, buf, start = [], "", None
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.rstrip()
        if start is None:
            start = number
        if line.endswith("\\"):
            buf += line[:-1] + " "
            continue
        out.append((start, (buf + line).strip()))
        buf, start = "", None
    if buf:
        out.append((start, buf.strip()))
    return out


def parse_unit_service(units):
    """``[(path, text)]`` of a service's unit file and its drop-ins, in systemd's order -> ``{"exec_start": (path,
    line, value) or None, "environment": {name: (value, "path:line")}, "environment_files": [(path, optional,
    "path:line")]}``. An empty ``ExecStart=`` resets the list (a drop-in replacing the command)."""
    exec_start, env, env_files = None, {}, []
    for path, text in units:
        section = None
        for number, line in _logical_lines(text):
            if line.startswith("[") and line.endswith("]"):
                section = line
                continue
            if section != "[Service]" or not line or line[0] in "#;" or "=" not in line:
                continue
            key, value = [part.strip() for part in line.split("=", 1)]
            where = "%s:%d" % (path, number)
            if key == "ExecStart":
                exec_start = (path, number, value) if value else None
            elif key == "EnvironmentFile":
                if not value:
                    env_files = []
                else:
                    env_files.append((value.lstrip("-"), value.startswith("-"), where))
            elif key == "Environment":
                try:
                    words = shlex.split(value)
                except ValueError:
                    words = value.split()
                for word in words:
                    name, dummy, val = word.partition("=")
                    env[name] = (val, where)
    return {"exec_start": exec_start, "environment": env, "environment_files": env_files}


def parse_environment_file(text, path):
    """An ``EnvironmentFile`` (``/etc/default/docker``) -> ``{name: (value, "path:line")}``; quotes as a shell reads
    them, comments and other lines left out."""
    out = {}
    for number, line in _logical_lines(text):
        if not line or line[0] == "#" or "=" not in line:
            continue
        name, dummy, value = line.partition("=")
        name = name.strip()
        if name.startswith("export "):
            name = name[len("export "):].strip()
        if not re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", name):
            continue
        try:
            words = shlex.split(value)
        except ValueError:
            words = [value]
        out[name] = (" ".join(words), "%s:%d" % (path, number))
    return out


def engine_flags(service, env_files):
    """The daemon.json keys set on dockerd's command line: ``{key: [{"value", "flag", "source"}]}`` (``source``: the
    ``file:line`` that sets it - the unit or drop-in line of ExecStart, or the environment file line of a ``$VAR`` it
    expands). ``service`` is :func:`parse_unit_service`'s; ``env_files`` ``{path: text}``."""
    if not service.get("exec_start"):
        return {}
    path, number, value = service["exec_start"]
    env = {}
    for file_path, dummy, dummy2 in service.get("environment_files") or []:
        if file_path in env_files:
            env.update(parse_environment_file(env_files[file_path], file_path))
    env.update(service.get("environment") or {})
    words = []  # (word, source)
    try:
        raw = shlex.split(value)
    except ValueError:
        raw = value.split()
    for word in raw:
        match = re.match(r"^\$(?:\{([A-Za-z_][A-Za-z0-9_]*)\}|([A-Za-z_][A-Za-z0-9_]*))$", word)
        if match:
            name = match.group(1) or match.group(2)
            val, where = env.get(name, ("", None))
            parts = [val] if match.group(1) else val.split()
            words.extend((w, where) for w in parts if w)
        else:
            words.append((word, "%s:%d" % (path, number)))
    out = {}
    i = 0
    while i < len(words):
        word, where = words[i]
        flag, sep, inline = word.partition("=")
        if flag in ENGINE_FLAGS:
            if sep:
                val = inline
            elif i + 1 < len(words):
                val = words[i + 1][0]
                i += 1
            else:
                val = ""
            out.setdefault(ENGINE_FLAGS[flag], []).append({"value": val, "flag": flag, "source": where})
        i += 1
    return out
