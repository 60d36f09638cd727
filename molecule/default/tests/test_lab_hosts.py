# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The lab hosts are real: systemd, their own loop-backed disks, filesystems mounted as declared,
and site.yml's report tells the truth about them (compared with what the kernel says)."""

import json

import pytest

DECLARED = {
    "mol-default-xfs": {"vdb": ("xfs", "/var/lib/docker", 2 << 30)},
    "mol-default-btrfs": {"vdb": ("btrfs", "/var/lib/docker", 2 << 30), "vdc": (None, None, 1 << 30)},
}


def test_systemd_is_pid1_and_running(host):
    assert host.file("/proc/1/comm").content_string.strip() == "systemd"
    state = host.run("systemctl is-system-running").stdout.strip()
    assert state in ("running", "degraded"), host.run("systemctl --failed --no-legend").stdout


def test_disks_are_loop_backed_block_devices(host):
    for disk, (fstype, mountpoint, size) in DECLARED[host.backend.get_hostname()].items():
        assert host.run("test -b /dev/%s" % disk).rc == 0, "/dev/%s is not a block device" % disk
        assert int(host.check_output("blockdev --getsize64 /dev/%s" % disk)) == size
        major = int(host.check_output("stat -c %%t /dev/%s" % disk), 16)
        assert major == 7, "/dev/%s should be a loop device (major 7), got %d" % (disk, major)
        if fstype:
            assert host.check_output("blkid -o value -s TYPE /dev/%s" % disk) == fstype
        if mountpoint:
            assert host.mount_point(mountpoint).exists
            assert host.mount_point(mountpoint).filesystem == fstype
            assert host.mount_point(mountpoint).device == "/dev/" + disk


def test_disk_is_private_to_its_host(host):
    # A file written on this host's disk is not on the other host's disk of the same name.
    name = host.backend.get_hostname()
    host.check_output("echo %s > /var/lib/docker/owner" % name)
    assert host.file("/var/lib/docker/owner").content_string.strip() == name


@pytest.mark.parametrize("fs", ["overlay", "btrfs", "xfs", "ext4"])
def test_kernel_serves_the_backend_filesystems(host, fs):
    assert fs in host.file("/proc/filesystems").content_string.split()


def test_report_facts_match_the_kernel(host):
    out = host.ansible("cow.storage.docker_storage_info", check=False)
    storage = out["storage"]
    assert storage["kernel"] == host.check_output("uname -r")
    assert storage["data_root"] == "/var/lib/docker"
    assert storage["data_root_filesystem"]["fstype"] == host.check_output("stat -f -c %T /var/lib/docker")
    engine = storage["engine"]
    assert engine["running"] is True
    assert engine["driver"] == host.check_output("docker info --format '{{.Driver}}'")
    assert engine["driver"] == {"mol-default-xfs": "overlay2", "mol-default-btrfs": "btrfs"}[host.backend.get_hostname()]
    assert engine["backing_filesystem"] in ("xfs", "btrfs")
    if engine["driver"] == "overlay2":
        assert engine["d_type"] is True
    disks = {d["name"]: d for d in storage["disks"]}
    for disk, (fstype, mountpoint, size) in DECLARED[host.backend.get_hostname()].items():
        assert disks[disk]["size"] == size
        assert disks[disk]["fstype"] == fstype
        if mountpoint:  # the btrfs driver also bind-mounts <data root>/btrfs from the same device
            assert disks[disk]["mountpoints"][0] == mountpoint, disks[disk]["mountpoints"]
        else:
            assert disks[disk]["mountpoints"] == []
    json.dumps(storage)
