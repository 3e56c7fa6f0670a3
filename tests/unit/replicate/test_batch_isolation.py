"""One task's unexpected error is that task's failure: the other tasks of its batch go on."""

from __future__ import annotations

from pathlib import Path

from fsreplica.destinations.memory import MemoryDestination
from fsreplica.replicate import Replicator


class TestBatch:
    """The applier's batch keeps its tasks apart."""

    def test_an_unexpected_error_fails_one_file_only(self, tmp_path: Path) -> None:
        src = tmp_path / "src"
        src.mkdir()
        for i in range(8):
            (src / f"f{i}.txt").write_text(str(i))
        dest = MemoryDestination()
        dest.fail("put", RuntimeError("a bug"), times=1)
        with Replicator(src, dest, state=tmp_path / "s.db", transfers=1) as rep:
            report = rep.sync_all()
            [(key, reason)] = report.failed
            assert reason == "unexpected error: RuntimeError: a bug"
            assert [(f.key, f.op) for f in rep.state.failures()] == [(key, "replicate")]
            assert report.files_copied == 7
            assert len(dest.keys()) == 7
            assert rep.sync_all().ok  # retried by the next reconcile
        assert len(dest.keys()) == 8
