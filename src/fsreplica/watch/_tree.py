"""The watched tree as the watcher knows it: directories (one per watch) and the files in them.

Keys of files are derived from their directory node, so renaming a directory re-keys everything
below it at once and later events carry the new path. The known file names are what lets the
watcher emit a delete for every file of a directory that was removed or moved away, and what an
overflow rescan compares the disk with.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from types import MappingProxyType
from typing import Final

# Most directories have no subdirectory: they share this read-only empty mapping until their
# first child (`add_child`), which saves one dict per leaf (see benchmarks/README.md).
_NO_CHILDREN: Final[Mapping[str, DirNode]] = MappingProxyType({})


class Root:
    """A watched root directory."""

    __slots__ = ("node", "path")

    def __init__(self, path: str) -> None:
        self.path = path
        self.node: DirNode | None = None


class DirNode:
    r"""A watched directory.

    Attributes:
        root: The root this directory belongs to.
        parent: The parent node (None for the root).
        name: The directory's name in its parent ("" for the root).
        key: The path relative to the root, '/'-separated ("" for the root).
        path: The absolute path.
        wd: The inotify watch descriptor (or another backend's handle).
        ino: The directory's inode number, to tell whether its path still leads to it.
        files: Names of the regular files known to be in the directory. Until the first change
            they are packed in one string ("\0a\0b\0", about 12 bytes a name instead of 60 for
            a str in a set: big trees are mostly files that never change); then a set. Use
            has_file/file_names/add_file/discard_file/set_scanned rather than the attribute.
        children: Sub-directory nodes by name.
        alive: False once the directory was removed from the tree.
    """

    __slots__ = (
        "alive",
        "children",
        "files",
        "ino",
        "key",
        "name",
        "parent",
        "path",
        "root",
        "wd",
    )

    def __init__(self, root: Root, parent: DirNode | None, name: str, wd: int, ino: int) -> None:
        self.root = root
        self.parent = parent
        self.name = name
        self.wd = wd
        self.ino = ino
        self.files: set[str] | str = ""
        self.children: Mapping[str, DirNode] = _NO_CHILDREN
        self.alive = True
        self.key = ""
        self.path = root.path
        self._place()

    def _place(self) -> None:
        parent = self.parent
        if parent is None:
            self.key, self.path = "", self.root.path
        else:
            self.key = f"{parent.key}/{self.name}" if parent.key else self.name
            self.path = f"{parent.path}{os.sep}{self.name}"

    def intact(self) -> bool:
        """Return True if this node's path still leads to this directory.

        False means a rename or removal of the directory (or an ancestor) has happened on disk
        and its events are still on their way.
        """
        try:
            return os.lstat(self.path).st_ino == self.ino
        except OSError:
            return False

    def has_file(self, name: str) -> bool:
        """Return True if `name` is known as a regular file in this directory."""
        files = self.files
        if isinstance(files, str):
            return bool(files) and f"\0{name}\0" in files
        return name in files

    def file_names(self) -> list[str]:
        """The names of the known regular files."""
        files = self.files
        if isinstance(files, str):
            return files.split("\0")[1:-1] if files else []
        return list(files)

    def set_scanned(self, names: list[str]) -> None:
        """Add the regular files a directory listing found."""
        if not names:
            return
        if not self.files:
            self.files = "\0" + "\0".join(names) + "\0"
        else:
            self.files = {*self.file_names(), *names}

    def clear_files(self) -> None:
        """Forget every file (the directory left the tree)."""
        self.files = ""

    def add_file(self, name: str) -> None:
        """Note that the regular file `name` is in this directory."""
        files = self.files
        if isinstance(files, str):
            if self.has_file(name):
                return
            self.files = files = set(self.file_names())
        files.add(name)

    def discard_file(self, name: str) -> None:
        """Note that `name` is no longer a regular file in this directory."""
        files = self.files
        if isinstance(files, str):
            if not self.has_file(name):
                return
            self.files = files = set(self.file_names())
        files.discard(name)

    def file_key(self, name: str) -> str:
        """Return the key of the file `name` in this directory."""
        key = self.key
        return f"{key}/{name}" if key else name

    def walk(self) -> Iterator[DirNode]:
        """Yield this node and every node below it, parents first."""
        stack = [self]
        while stack:
            node = stack.pop()
            yield node
            stack.extend(node.children.values())

    def known_keys(self) -> Iterator[str]:
        """Yield the key of every known file in this subtree."""
        for node in self.walk():
            for name in node.file_names():
                yield node.file_key(name)

    def add_child(self, name: str, child: DirNode) -> None:
        """Make `child` the subdirectory `name` of this node."""
        children = self.children
        if not isinstance(children, dict):
            children = self.children = {}
        children[name] = child

    def _remove_child(self, name: str, child: DirNode) -> None:
        """Forget the subdirectory `name` if it is still `child`."""
        children = self.children
        if isinstance(children, dict) and children.get(name) is child:
            del children[name]

    def move(self, parent: DirNode, name: str) -> None:
        """Re-attach this subtree under `parent` as `name` and re-key it."""
        if self.parent is not None:
            self.parent._remove_child(self.name, self)
        self.parent = parent
        self.name = name
        parent.add_child(name, self)
        for node in self.walk():
            node._place()

    def detach(self) -> list[DirNode]:
        """Remove this subtree from the tree and return its nodes."""
        parent = self.parent
        if parent is not None:
            parent._remove_child(self.name, self)
        nodes = list(self.walk())
        for node in nodes:
            node.alive = False
        return nodes
