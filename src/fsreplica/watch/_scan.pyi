"""Type stub of the optional C extension (see _scan.c)."""

def scan(
    dir_fd: int, old: dict[str, tuple[int, int, int]], /
) -> tuple[dict[str, tuple[int, int, int]], list[str], list[str]]: ...
def is_regular(path: str, /) -> int: ...
def wait(
    inotify_fd: int,
    events: int,
    wake_fd: int,
    timeout_ms: int,
    bell_fd: int,
    ring: int,
    burst_until: float,
    linger_ms: int,
    /,
) -> int: ...
