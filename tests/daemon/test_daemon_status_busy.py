"""Status answers while a policy's replicator holds its state: failures are kept in memory."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

import pytest
from daemon_helpers import DEADLINE, policy_table, wait_for

from fsreplica import destinations
from fsreplica.daemon.control import PolicyStatus
from fsreplica.daemon.manager import Manager


def answered(call: Callable[[], PolicyStatus]) -> PolicyStatus:
    """`call()` in a thread of its own; fail when it has not answered within the deadline."""
    out: list[PolicyStatus] = []
    thread = threading.Thread(target=lambda: out.append(call()), name="status-call")
    thread.start()
    thread.join(DEADLINE)
    assert out, "status did not answer while the policy's state was held"
    return out[0]


def failing(status: PolicyStatus) -> dict[str, str]:
    return {f.path: f"{f.op}: {f.reason}" for f in status.failing}


class TestStatusWhileTheStateIsHeld:
    """A writer holds the state through its commit: status answers from memory meanwhile."""

    def test_failures_shown_while_held_and_updated_after(
        self, tmp_path: Path, environ: dict[str, str], monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setitem(
            destinations._SCHEMES, "refusing", ("daemon_helpers:refusing_destination", None)
        )
        src = tmp_path / "src"
        src.mkdir()
        for name in ("ok.txt", "bad1.txt", "bad2.txt"):
            (src / name).write_text(name)
        config = tmp_path / "config.toml"
        config.write_text(policy_table("p", src, "refusing://x", debounce=0.05))
        with Manager(str(config)) as manager:
            manager.start()
            wait_for(
                lambda: (
                    manager.policy_status("p").state == "live"
                    and manager.policy_status("p").failures == 2
                ),
                "the policy live with its two failures",
            )
            # The lock every transaction of the state holds through its commit (and fsync):
            # held here as by a writer that takes long, for longer than any figure is reused.
            state = manager._runners["p"]._replicator.state  # type: ignore[union-attr]
            with state.lock:
                (src / "bad3.txt").write_text("bad3")  # its failure waits for the lock
                deadline = threading.Event()
                timer = threading.Timer(3.0, deadline.set)
                timer.start()
                try:
                    while not deadline.is_set():
                        status = answered(lambda: manager.policy_status("p"))
                        assert status.failures == 2
                        assert failing(status) == {
                            "bad1.txt": "put: access denied",
                            "bad2.txt": "put: access denied",
                        }
                        whole = answered(manager.status)
                        assert [p.failures for p in whole.policies] == [2]
                        deadline.wait(0.1)
                finally:
                    timer.cancel()
                    timer.join()
            wait_for(lambda: manager.policy_status("p").failures == 3, "bad3's failure")
            assert "bad3.txt" in failing(manager.policy_status("p"))
            (src / "bad1.txt").unlink()  # gone from the source: no longer failing
            wait_for(
                lambda: set(failing(manager.policy_status("p"))) == {"bad2.txt", "bad3.txt"},
                "bad1's failure cleared",
            )
            assert manager.policy_status("p").failures == 2
