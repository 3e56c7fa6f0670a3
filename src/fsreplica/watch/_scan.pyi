"""Type stub of the optional C extension (see _scan.c)."""

def scan(
    dir_fd: int, old: dict[str, tuple[int, int, int]], /
) -> tuple[dict[str, tuple[int, int, int]], list[str], list[str]]: ...
