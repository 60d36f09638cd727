# Copyright: cow.storage contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""usage: python3 vm-vmlinux.py BZIMAGE OUT

Writes OUT, the uncompressed kernel inside the bzImage BZIMAGE, when it is an ELF with a PVH entry point (Xen ELF note
XEN_ELFNOTE_PHYS32_ENTRY, Debian's kernels have one): qemu then boots it directly (-kernel OUT, PVH), without the
firmware's real-mode setup and the kernel's own decompression, which under TCG take ~7 s of every boot (measured: SSH
after ~26 s instead of ~33 s). Exits 1 with a reason on stderr, OUT left absent, when the kernel cannot be unpacked
(a compression this script does not read, no zstd tool for a zstd kernel, no PVH note): vm-up.sh then boots the bzImage.
"""
import lzma
import os
import shutil
import struct
import subprocess
import sys
import zlib

# magic -> name of the compression, at the start of the bzImage's payload
MAGICS = [(b"\xfd7zXZ\x00", "xz"), (b"\x28\xb5\x2f\xfd", "zstd"), (b"\x1f\x8b", "gzip")]
PT_NOTE = 4
XEN_ELFNOTE_PHYS32_ENTRY = 18


def payload(image):
    """The compressed kernel: the boot protocol's payload_offset/payload_length (2.08+), after the real-mode setup."""
    if len(image) < 0x250 or image[0x202:0x206] != b"HdrS":
        raise ValueError("not a bzImage (no HdrS header)")
    if struct.unpack_from("<H", image, 0x206)[0] < 0x208:
        raise ValueError("boot protocol older than 2.08: no payload fields")
    setup_sects = image[0x1F1] or 4
    offset, length = struct.unpack_from("<II", image, 0x248)
    start = (setup_sects + 1) * 512 + offset
    return image[start:start + length]


def decompress(data):
    for magic, name in MAGICS:
        if data.startswith(magic):
            break
    else:
        raise ValueError("unknown compression (magic %s)" % data[:6].hex())
    if name == "xz":
        return lzma.LZMADecompressor(format=lzma.FORMAT_XZ).decompress(data)
    if name == "gzip":
        return zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(data)
    if shutil.which("zstd") is None:
        raise ValueError("a zstd kernel and no zstd tool (apt-get install zstd)")
    # the build appends the uncompressed size (4 bytes) after the zstd frame
    proc = subprocess.run(["zstd", "-dcq"], input=data[:-4], stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=False)
    if proc.returncode != 0:
        raise ValueError("zstd failed: %s" % proc.stderr.decode("utf-8", "replace").strip())
    return proc.stdout


def has_pvh_entry(elf):
    """Whether the ELF64 kernel has a Xen PHYS32_ENTRY note, the entry qemu uses to boot it (PVH)."""
    if elf[:4] != b"\x7fELF" or elf[4] != 2:
        return False
    phoff, = struct.unpack_from("<Q", elf, 0x20)
    phentsize, phnum = struct.unpack_from("<HH", elf, 0x36)
    for i in range(phnum):
        p_type, = struct.unpack_from("<I", elf, phoff + i * phentsize)
        if p_type != PT_NOTE:
            continue
        off, = struct.unpack_from("<Q", elf, phoff + i * phentsize + 0x08)
        size, = struct.unpack_from("<Q", elf, phoff + i * phentsize + 0x20)
        pos, end = off, off + size
        while pos + 12 <= end:
            namesz, descsz, ntype = struct.unpack_from("<III", elf, pos)
            name = elf[pos + 12:pos + 12 + namesz].rstrip(b"\x00")
            if name == b"Xen" and ntype == XEN_ELFNOTE_PHYS32_ENTRY:
                return True
            pos += 12 + (namesz + 3) // 4 * 4 + (descsz + 3) // 4 * 4
    return False


def main(argv):
    if len(argv) != 3:
        sys.stderr.write(__doc__)
        return 2
    src, out = argv[1], argv[2]
    try:
        with open(src, "rb") as handle:
            elf = decompress(payload(handle.read()))
        if not has_pvh_entry(elf):
            raise ValueError("the kernel has no PVH entry point (CONFIG_PVH)")
    except (OSError, ValueError, lzma.LZMAError, zlib.error, struct.error) as exc:
        sys.stderr.write("vm-vmlinux: %s: %s; the VMs boot the bzImage\n" % (src, exc))
        return 1
    tmp = out + ".tmp"
    with open(tmp, "wb") as handle:
        handle.write(elf)
    os.rename(tmp, out)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
