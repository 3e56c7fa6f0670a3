"""Which file system holds a path, from /proc/self/mountinfo (Linux).

`auto` uses it to tell local file systems, where inotify sees every change, from network and
shared ones, where changes made by other machines (or the host) produce no events at all.
"""

from __future__ import annotations

import os
import re
from typing import NamedTuple

MOUNTINFO = "/proc/self/mountinfo"

NETWORK_FS = frozenset(
    {
        "nfs",
        "nfs4",
        "cifs",
        "smb3",
        "smbfs",
        "9p",
        "virtiofs",
        "afs",
        "ceph",
        "glusterfs",
        "lustre",
        "gpfs",
        "beegfs",
        "ocfs2",
        "gfs2",
        "davfs",
        "vboxsf",
        "vmhgfs",
        "prl_fs",
        "drvfs",
    }
)
"""File system types whose changes inotify cannot be trusted to report (made elsewhere)."""

LOCAL_FUSE = frozenset({"fuse.lxcfs", "fuse.portal", "fuse.gvfsd-fuse", "fuseblk"})
"""FUSE types backed by this machine (fuseblk is ntfs-3g and friends on a local disk)."""

_OCTAL = re.compile(r"\\([0-7]{3})")


class Mount(NamedTuple):
    """One line of mountinfo: where, what type, from where."""

    point: str
    fstype: str
    source: str


def unescape(field: str) -> str:
    r"""Undo mountinfo's octal escapes (`\040` is a space, `\011` a tab, `\134` a backslash)."""
    return _OCTAL.sub(lambda m: chr(int(m.group(1), 8)), field)


def parse_mountinfo(text: str) -> list[Mount]:
    """Parse the text of /proc/<pid>/mountinfo; malformed lines are skipped."""
    mounts = []
    for line in text.splitlines():
        fields = line.split(" ")
        try:
            sep = fields.index("-", 6)  # optional fields end with a lone "-"
            mounts.append(Mount(unescape(fields[4]), fields[sep + 1], unescape(fields[sep + 2])))
        except (ValueError, IndexError):
            continue
    return mounts


def mount_of(path: str, mounts: list[Mount]) -> Mount | None:
    """Return the mount holding `path` (absolute, resolved): the longest mount point prefix.

    Later lines win ties, as a later mount over the same point hides the earlier one.
    """
    best: Mount | None = None
    for mount in mounts:
        point = mount.point
        inside = point in (path, "/") or path.startswith(point.rstrip("/") + "/")
        if inside and (best is None or len(point) >= len(best.point)):
            best = mount
    return best


def is_network(fstype: str) -> bool:
    """Return True for file system types where changes can happen without local events."""
    if fstype in NETWORK_FS:
        return True
    # FUSE file systems are userspace: sshfs, rclone, s3fs, gcsfuse... are remote unless known
    return fstype.startswith("fuse") and fstype not in LOCAL_FUSE


def fs_type(path: str, *, mountinfo: str = MOUNTINFO) -> str | None:
    """Return the type of the file system holding `path`, or None if it cannot be told."""
    try:
        with open(mountinfo, encoding="utf-8", errors="surrogateescape") as f:
            mounts = parse_mountinfo(f.read())
    except OSError:
        return None
    mount = mount_of(os.path.realpath(path), mounts)
    return mount.fstype if mount is not None else None
