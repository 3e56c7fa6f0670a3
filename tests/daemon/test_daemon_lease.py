"""Two daemons given one destination: one writes, the other stands by and takes over."""

from __future__ import annotations

import socket
from pathlib import Path

from daemon_helpers import DaemonProcess, daemon_environ, policy_table, tree, wait_for

from fsreplica.daemon.manager import Manager

TTL = 'lease_ttl = "2s"\n'


def host_config(tmp_path: Path, name: str, dst: Path) -> Path:
    """A daemon's config, as on its own host: its own source and state, the shared DEST."""
    src = tmp_path / f"src-{name}"
    src.mkdir()
    (src / "shared.txt").write_text("on both hosts")
    (src / f"only-{name}.txt").write_text(name)
    config = tmp_path / f"{name}.toml"
    table = policy_table("docs", src, dst, debounce=0.05, state=str(tmp_path / f"{name}.db"))
    # Its own socket too: two daemons on one socket is refused before any lease is taken.
    config.write_text(f'[daemon]\n{TTL}socket = "{tmp_path}/{name}/fsreplica.sock"\n\n{table}')
    return config


class TestLease:
    """Exactly one daemon writes a destination; the other names the holder and waits."""

    def test_standby_then_takeover_on_release(
        self, tmp_path: Path, environ: dict[str, str]
    ) -> None:
        dst = tmp_path / "dst"
        first, second = host_config(tmp_path, "a", dst), host_config(tmp_path, "b", dst)
        with Manager(str(first)) as a:
            a.start()
            wait_for(lambda: a.policy_status("docs").state == "live", "a live")
            with Manager(str(second)) as b:
                b.start()
                wait_for(lambda: b.policy_status("docs").state == "standby", "b standing by")
                holder = f"{socket.gethostname()}:{first} (pid "
                assert f"{dst}: lease held by {holder}" in (b.policy_status("docs").detail or "")
                assert b.status().ready  # standing by is where it should be
                (tmp_path / "src-a" / "new.txt").write_text("from a")
                wait_for(lambda: "new.txt" in tree(dst), "a's change")
                assert "only-b.txt" not in tree(dst)
                a.close()  # releases the lease
                # b's source lacks two of the three files at DEST: its reconcile copies its own
                # and the delete guard refuses to remove more than half of the destination.
                taken = ("live", "deletes-refused")
                wait_for(lambda: b.policy_status("docs").state in taken, "b takes over")
                wait_for(lambda: "only-b.txt" in tree(dst), "b writes")

    def test_takeover_when_the_holder_is_killed(self, tmp_path: Path) -> None:
        dst = tmp_path / "dst"
        first, second = host_config(tmp_path, "a", dst), host_config(tmp_path, "b", dst)
        env = daemon_environ(tmp_path)
        with DaemonProcess(tmp_path, first, env=env) as a:
            a.wait_started()
            wait_for(lambda: "only-a.txt" in tree(dst), "a writes")
            # As on its own host: its own runtime directory, so its own API socket.
            runtime_b = tmp_path / "xdg" / "runtime-b"
            runtime_b.mkdir(mode=0o700)
            env_b = {**env, "XDG_RUNTIME_DIR": str(runtime_b)}
            with DaemonProcess(tmp_path, second, env=env_b) as b:
                b.wait_started()
                line = f"policy docs: {dst}: lease held by {socket.gethostname()}:{first} "
                line += f"(pid {a.proc.pid}); standing by until it is released or expires"
                wait_for(lambda: line in b.output(), "b to name the holder")
                a.kill()  # never released: b takes over once it lapses (2 s)
                wait_for(lambda: "only-b.txt" in tree(dst), "b writes after the lapse")
                assert "lease taken over from" in b.output()
                assert b.terminate() == 0
