# Copyright: cow.storage contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Start a container on the engine's storage backend; print one JSON document.

Run by the cow.storage.backend role (tasks/verify.yml) through ansible.builtin.script, so the whole
verification is one round-trip: when IMAGE is not there yet it is built in place from the host's
busybox (no registry: ``tar | docker import -``), then ``docker run --rm IMAGE /busybox true``.

  cow_verify.py IMAGE
"""
import io
import json
import os
import subprocess
import sys
import tarfile


def run(argv, data=None):
    proc = subprocess.run(argv, input=data, stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=False,
                          env=dict(os.environ, LC_ALL="C"))
    return proc.returncode, proc.stdout.decode("utf-8", "replace").strip(), proc.stderr.decode("utf-8", "replace").strip()


def busybox():
    for path in ("/bin/busybox", "/usr/bin/busybox", "/sbin/busybox", "/usr/sbin/busybox"):
        if os.path.isfile(path):
            return path
    return None


def build(image):
    """Import a root of one file, /busybox, as image; return an error text or None."""
    src = busybox()
    if src is None:
        return "no busybox on this host (/bin/busybox) to build %s from: install busybox-static" % image
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        info = tar.gettarinfo(src, arcname="busybox")
        info.uid = info.gid = 0
        info.uname = info.gname = "root"
        info.mode = 0o755
        with open(src, "rb") as handle:
            tar.addfile(info, handle)
    rc, dummy, err = run(["docker", "import", "-", image], data=buf.getvalue())
    return None if rc == 0 else "docker import %s failed (rc=%d): %s" % (image, rc, err[-400:])


def main(argv):
    image = argv[1]
    out = {"image": image, "built": False, "started": False, "error": None}
    rc, dummy, dummy = run(["docker", "image", "inspect", "--format", "{{.Id}}", image])
    if rc != 0:
        out["error"] = build(image)
        out["built"] = out["error"] is None
    if out["error"] is None:
        rc, dummy, err = run(["docker", "run", "--rm", "--network", "none", image, "/busybox", "true"])
        out["started"] = rc == 0
        if rc != 0:
            out["error"] = "docker run --rm %s /busybox true failed (rc=%d): %s" % (image, rc, err[-400:])
    rc, driver, dummy = run(["docker", "info", "--format", "{{.Driver}}"])
    out["driver"] = driver if rc == 0 else None
    print(json.dumps(out))
    return 0 if out["started"] else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
