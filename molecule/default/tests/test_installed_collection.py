# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The collection as a Galaxy user gets it: the tarball installed with only its declared dependencies (by
scripts/galaxy-check.sh, the galaxy phase of make test, into .cache/galaxy-installed) runs cow.storage.site and
cow.storage.preflight in check mode against these converged lab hosts. Only the connection plugin of the lab's
container hosts (community.docker, with its own dependency) is added, in a path of its own: no content the
shipped roles use can come from the checkout."""

import importlib.metadata
import os
import subprocess
import sys

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
INSTALLED = os.path.join(ROOT, ".cache", "galaxy-installed", "collections")
HARNESS = os.path.join(ROOT, ".cache", "collections", "ansible_collections")


def connection_only(tmp_path):
    """A collections path with community.docker (the lab hosts' connection) and its dependency, nothing else."""
    base = tmp_path / "ansible_collections" / "community"
    base.mkdir(parents=True)
    for name in ("docker", "library_inventory_filtering_v1"):
        os.symlink(os.path.join(HARNESS, "community", name), str(base / name))
    return str(tmp_path)


PLAIN = os.path.join(ROOT, ".cache", "venv-plain-ansible-core")


def plain_ansible_core():
    """A venv with ``pip install ansible-core`` alone (the version this suite runs), as a new user has it: no jmespath,
    no other library. Kept between runs."""
    core = importlib.metadata.version("ansible-core")
    stamp = os.path.join(PLAIN, ".ansible-core-" + core)
    if not os.path.exists(stamp):
        subprocess.run([sys.executable, "-m", "venv", "--clear", PLAIN], check=True)
        subprocess.run([os.path.join(PLAIN, "bin", "pip"), "install", "-q", "--disable-pip-version-check",
                        "ansible-core==" + core], check=True)
        open(stamp, "w", encoding="utf-8").close()
    return os.path.join(PLAIN, "bin")


def run(playbook, tmp_path, bindir=None):
    assert os.path.isdir(os.path.join(INSTALLED, "ansible_collections", "cow", "storage")), (
        "the installed tarball is missing: the galaxy phase (bash scripts/galaxy-check.sh) makes it")
    tmp_path.mkdir(parents=True, exist_ok=True)
    (tmp_path / "ansible.cfg").write_text("[defaults]\n")
    env = dict(os.environ, ANSIBLE_CONFIG=str(tmp_path / "ansible.cfg"), ANSIBLE_COLLECTIONS_SCAN_SYS_PATH="false",
               ANSIBLE_COLLECTIONS_PATH="%s:%s" % (INSTALLED, connection_only(tmp_path / "conn")),
               ANSIBLE_ROLES_PATH=str(tmp_path / "no-roles"), ANSIBLE_FORCE_COLOR="0", ANSIBLE_PIPELINING="True")
    if bindir:
        env["PATH"] = bindir + os.pathsep + env["PATH"]
    proc = subprocess.run([os.path.join(bindir or "", "ansible-playbook"), "--check", "-i", os.environ["MOLECULE_INVENTORY_FILE"],
                           playbook],
                          cwd=str(tmp_path), env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, check=False)
    return proc.returncode, proc.stdout


def test_site_from_the_installed_tarball_changes_nothing_on_a_converged_fleet(tmp_path):
    rc, out = run("cow.storage.site", tmp_path)
    assert rc == 0, out[-4000:]
    recap = [line for line in out.splitlines() if line.startswith("mol-default-")]
    assert len(recap) == 2 and all(" changed=0 " in line and " failed=0 " in line for line in recap), out[-4000:]


def test_preflight_from_the_installed_tarball(tmp_path):
    rc, out = run("cow.storage.preflight", tmp_path)
    assert rc == 0, out[-4000:]
    assert out.count("change nothing") >= 2 and "REFUSE" not in out, out[-4000:]
    # converged hosts: nothing hidden or interrupted, nothing a converge would hide, and their data roots' mounts
    # (the lab's disks, mounted by hand) persisted and required by docker.service, so no REBOOT line either
    for word in ("HIDDEN ", "INTERRUPTED ", "WOULD ", "REBOOT ", "FLAG "):
        assert word not in out, out[-4000:]


def test_site_and_preflight_on_a_plain_ansible_core_without_jmespath(tmp_path):
    # issue 25: the backend role's first task needed jmespath just to format its message, so site, migrate and
    # preflight failed on `pip install ansible-core` alone, even with valid parameters
    bindir = plain_ansible_core()
    probe = subprocess.run([os.path.join(bindir, "python"), "-c", "import jmespath"], check=False, stderr=subprocess.DEVNULL)
    assert probe.returncode != 0, "the plain venv has jmespath: it would prove nothing"
    for playbook in ("cow.storage.site", "cow.storage.preflight"):
        rc, out = run(playbook, tmp_path / playbook, bindir)
        assert rc == 0, out[-4000:]
        assert "jmespath" not in out and "Finalization of task args" not in out, out[-4000:]
