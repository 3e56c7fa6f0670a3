"""Mount table parsing and the choice `auto` makes from a file system type."""

from __future__ import annotations

import pytest

from fsreplica.watch import _fstype
from fsreplica.watch._select import choose

MOUNTINFO = r"""27 1 254:0 / / rw,relatime - ext4 /dev/vda rw
40 27 0:50 / /mnt/nfs rw,relatime shared:5 - nfs4 server:/export rw,vers=4.2
41 27 0:51 / /mnt/my\040share rw - cifs //host/share rw
42 41 0:52 / /mnt/my\040share/inner rw - tmpfs tmpfs rw
43 27 0:53 / /home/u/remote rw - fuse.sshfs u@host:/ rw
44 27 0:54 / /proc/x rw - fuse.lxcfs lxcfs rw
45 27 0:55 / /mnt/host rw - 9p hostshare rw
bad line
"""


class TestMountinfo:
    """Longest mount point prefix, escaped spaces, optional fields."""

    mounts = _fstype.parse_mountinfo(MOUNTINFO)

    @pytest.mark.parametrize(
        ("path", "fstype"),
        [
            ("/", "ext4"),
            ("/home/u/project", "ext4"),
            ("/mnt/nfs", "nfs4"),
            ("/mnt/nfs/a/b", "nfs4"),
            ("/mnt/nfsother", "ext4"),
            ("/mnt/my share/docs", "cifs"),
            ("/mnt/my share/inner/x", "tmpfs"),
            ("/home/u/remote/x", "fuse.sshfs"),
            ("/mnt/host", "9p"),
        ],
    )
    def test_mount_of(self, path: str, fstype: str) -> None:
        mount = _fstype.mount_of(path, self.mounts)
        assert mount is not None
        assert mount.fstype == fstype

    def test_bad_lines_are_skipped(self) -> None:
        assert len(self.mounts) == 7

    @pytest.mark.parametrize(
        ("fstype", "network"),
        [
            ("ext4", False),
            ("tmpfs", False),
            ("nfs", True),
            ("cifs", True),
            ("smb3", True),
            ("9p", True),
            ("virtiofs", True),
            ("fuse.sshfs", True),
            ("fuse.rclone", True),
            ("fuse.lxcfs", False),
            ("fuseblk", False),
        ],
    )
    def test_is_network(self, fstype: str, network: bool) -> None:
        assert _fstype.is_network(fstype) is network

    def test_fs_type_of_a_real_path(self, tmp_path) -> None:
        assert _fstype.fs_type(str(tmp_path)) is not None
        assert _fstype.fs_type(str(tmp_path), mountinfo="/nonexistent") is None


class TestChoose:
    """What auto picks, per root, and that an explicit backend is kept."""

    def test_explicit(self) -> None:
        assert choose("polling", "/").backend == "polling"

    def test_not_linux(self) -> None:
        assert choose("auto", "/", platform="darwin").backend == "portable"
        assert choose("auto", "/", platform="win32").backend == "portable"

    def test_local_linux(self, tmp_path) -> None:
        assert choose("auto", str(tmp_path)).backend == "inotify"

    def test_network_mount(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setattr("fsreplica.watch._select.fs_type", lambda root: "nfs4")
        choice = choose("auto", "/mnt/nfs")
        assert choice.backend == "polling"
        assert "nfs4" in choice.reason
