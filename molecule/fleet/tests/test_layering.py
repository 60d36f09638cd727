# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Copy-on-write, seen through Docker on each backend the fleet converged onto.

overlay2, fuse-overlayfs: a file written in a container lies in its upper dir; the image layer is untouched.
btrfs:    the container's root is a snapshot subvolume of the image's (parent UUID).
vfs:      the container's root is a full copy of the image (other inodes, same bytes).
"""

import json

import pytest

IMAGE = "cow-storage-verify:1"
CTR = "cow-layering-probe"


def driver_of(host):
    """The driver a host's name ends with (``-fuse``: fuse-overlayfs)."""
    name = host.backend.get_hostname().rsplit("-", 1)[1]
    return {"fuse": "fuse-overlayfs"}.get(name, name)


@pytest.fixture()
def probe(host):
    host.run("docker rm -f %s" % CTR)
    host.check_output(
        "docker run -d --name %s --network none %s /busybox sh -c 'echo written-in-container > /probe; sleep 600'" % (CTR, IMAGE))
    for dummy in range(50):
        if host.run("docker exec %s /busybox cat /probe" % CTR).rc == 0:
            break
    data = json.loads(host.check_output("docker inspect %s" % CTR))[0]
    yield data
    host.run("docker rm -f %s" % CTR)


def test_engine_runs_the_group_driver(host):
    assert host.check_output("docker info --format '{{.Driver}}'") == driver_of(host)


def test_data_root_is_where_the_role_put_it(host):
    fstype = host.check_output("stat -f -c %T /var/lib/docker")
    # fuse-overlayfs: the host's own root, an overlay where overlay2 cannot stack
    assert fstype == {"overlay2": "xfs", "btrfs": "btrfs", "vfs": "ext2/ext3", "fuse-overlayfs": "overlayfs"}[driver_of(host)]
    if driver_of(host) == "btrfs":
        opts = host.check_output("findmnt -n -o OPTIONS /var/lib/docker")
        assert "subvol=/@docker" in opts, opts
    if driver_of(host) == "overlay2":
        assert "ftype=1" in host.check_output("xfs_info /var/lib/docker")


def test_copy_on_write_layering(host, probe):
    driver = driver_of(host)
    graph = probe["GraphDriver"]
    assert graph["Name"] == driver
    image = json.loads(host.check_output("docker image inspect %s" % IMAGE))[0]
    if driver in ("overlay2", "fuse-overlayfs"):
        upper = graph["Data"]["UpperDir"]
        lower_dirs = graph["Data"]["LowerDir"].split(":")
        assert host.file(upper + "/probe").content_string == "written-in-container\n"
        for lower in lower_dirs:
            assert not host.file(lower + "/probe").exists
        image_layer = image["GraphDriver"]["Data"]["UpperDir"]
        assert host.file(image_layer + "/busybox").exists
        assert not host.file(image_layer + "/probe").exists
    elif driver == "btrfs":
        ctr_root = "/var/lib/docker/btrfs/subvolumes/" + host.check_output(
            "cat /var/lib/docker/image/btrfs/layerdb/mounts/%s/mount-id" % probe["Id"])
        layer_id = host.check_output(
            "cat /var/lib/docker/image/btrfs/layerdb/sha256/%s/cache-id" % image["RootFS"]["Layers"][-1].split(":")[1])
        img_root = "/var/lib/docker/btrfs/subvolumes/" + layer_id
        show_ctr = host.check_output("btrfs subvolume show %s" % ctr_root)
        show_img = host.check_output("btrfs subvolume show %s" % img_root)

        def field(text, name):
            return [ln.split(":", 1)[1].strip() for ln in text.splitlines() if ln.strip().startswith(name + ":")][0]
        # The container's init layer sits between: walk parent UUIDs up to the image's subvolume.
        uuid_img = field(show_img, "UUID")
        parents = [field(show_ctr, "Parent UUID")]
        for dummy in range(3):
            if parents[-1] == uuid_img:
                break
            out = host.check_output("btrfs subvolume list -u -q /var/lib/docker")
            row = [ln for ln in out.splitlines() if ("uuid " + parents[-1]) in ln][0]
            parents.append(row.split("parent_uuid ")[1].split()[0])
        assert uuid_img in parents, (uuid_img, parents)
        assert host.file(ctr_root + "/probe").exists
        assert not host.file(img_root + "/probe").exists
    else:  # vfs
        ctr_root = "/var/lib/docker/vfs/dir/" + host.check_output(
            "cat /var/lib/docker/image/vfs/layerdb/mounts/%s/mount-id" % probe["Id"])
        layer_id = host.check_output(
            "cat /var/lib/docker/image/vfs/layerdb/sha256/%s/cache-id" % image["RootFS"]["Layers"][-1].split(":")[1])
        img_root = "/var/lib/docker/vfs/dir/" + layer_id
        # a full copy: same bytes, other inode
        assert host.file(ctr_root + "/busybox").sha256sum == host.file(img_root + "/busybox").sha256sum
        assert host.check_output("stat -c %%i %s/busybox" % ctr_root) != host.check_output("stat -c %%i %s/busybox" % img_root)
        assert host.file(ctr_root + "/probe").exists
        assert not host.file(img_root + "/probe").exists
