"""The Replicator on real directories and a real state database."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import TypeVar

import pytest

import fsreplica
from fsreplica.destinations.memory import MemoryDestination
from fsreplica.errors import DestinationError, InternalError
from fsreplica.replicate import ReconcileError, Replicator, State
from fsreplica.replicate.apply import Applier
from fsreplica.replicate.engine import Retry, Task
from fsreplica.replicate.verify import verify

T = TypeVar("T")


@pytest.fixture
def src(tmp_path: Path) -> Path:
    root = tmp_path / "src"
    (root / "d" / "e").mkdir(parents=True)
    (root / "a.txt").write_text("alpha")
    (root / "d" / "b.txt").write_text("bravo")
    (root / "d" / "e" / "c.bin").write_bytes(os.urandom(70_000))
    return root


def make(src: Path, tmp_path: Path, **options: object) -> Replicator:
    return Replicator(src, tmp_path / "dst", state=tmp_path / "state" / "s.db", **options)  # type: ignore[arg-type]


def files(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and not p.name.startswith(".")
    }


class TestSync:
    """One-shot sync."""

    def test_progress_and_report_are_what_sync_all_returns(self, src: Path, tmp_path: Path) -> None:
        with make(src, tmp_path) as rep:
            assert rep.progress() == fsreplica.SyncReport()
            report = rep.sync_all()
            assert report.files_copied == 3
            assert rep.progress() == report
            assert rep.report.snapshot() == report
            rep.interrupt()  # after the work: nothing left to end, and idempotent
            rep.interrupt()
            assert rep.sync_all().unchanged == 3  # the next sync starts its workers again

    def test_copies_keeps_mtime_and_mode(self, src: Path, tmp_path: Path) -> None:
        os.chmod(src / "a.txt", 0o600)
        with make(src, tmp_path) as rep:
            report = rep.sync_all()
        assert report.files_copied == 3
        assert report.ok
        dst = tmp_path / "dst"
        assert files(dst) == files(src)
        s, d = os.stat(src / "a.txt"), os.stat(dst / "a.txt")
        assert (d.st_mtime_ns, stat.S_IMODE(d.st_mode)) == (s.st_mtime_ns, 0o600)

    def test_state_file_is_private(self, src: Path, tmp_path: Path) -> None:
        with make(src, tmp_path) as rep:
            rep.sync_all()
        assert stat.S_IMODE(os.stat(tmp_path / "state" / "s.db").st_mode) == 0o600
        assert stat.S_IMODE(os.stat(tmp_path / "state").st_mode) == 0o700

    def test_second_sync_copies_nothing(self, src: Path, tmp_path: Path) -> None:
        with make(src, tmp_path) as rep:
            rep.sync_all()
        with make(src, tmp_path) as rep:
            report = rep.sync_all()
        assert (report.files_copied, report.unchanged) == (0, 3)

    def test_touched_file_is_not_resent(self, src: Path, tmp_path: Path) -> None:
        with make(src, tmp_path) as rep:
            rep.sync_all()
            os.utime(src / "a.txt", ns=(1_500_000_000_000_000_000,) * 2)
            os.chmod(src / "d" / "b.txt", 0o640)
            report = rep.sync_all()
        assert (report.files_copied, report.metadata_updated) == (0, 2)
        dst = tmp_path / "dst"
        assert os.stat(dst / "a.txt").st_mtime_ns == 1_500_000_000_000_000_000
        assert stat.S_IMODE(os.stat(dst / "d" / "b.txt").st_mode) == 0o640

    def test_same_size_and_mtime_new_content_is_copied(self, src: Path, tmp_path: Path) -> None:
        with make(src, tmp_path) as rep:
            rep.sync_all()
            before = os.stat(src / "a.txt")
            (src / "a.txt").write_text("ALPHA")
            os.utime(src / "a.txt", ns=(before.st_atime_ns, before.st_mtime_ns))
            report = rep.sync_all()
        assert report.files_copied == 1
        assert (tmp_path / "dst" / "a.txt").read_text() == "ALPHA"

    def test_deletes_and_no_delete(self, src: Path, tmp_path: Path) -> None:
        with make(src, tmp_path) as rep:
            rep.sync_all()
        (src / "a.txt").unlink()
        with make(src, tmp_path, delete=False) as rep:
            assert rep.sync_all().deleted == 0
        assert (tmp_path / "dst" / "a.txt").exists()
        with make(src, tmp_path) as rep:
            assert rep.sync_all().deleted == 1
        assert files(tmp_path / "dst") == files(src)

    def test_a_bulk_sync_is_batched_recorded_and_acknowledged(
        self, src: Path, tmp_path: Path
    ) -> None:
        for i in range(300):
            (src / "d" / f"bulk{i}").write_bytes(os.urandom(i))
        with make(src, tmp_path, transfers=2) as rep:
            report = rep.sync_all()
            assert (report.files_copied, report.ok) == (303, True)
            assert rep.state.count_files() == 303
            assert rep.journal.count() == 0
        dst = tmp_path / "dst"
        assert files(dst) == files(src)
        assert list(dst.rglob(".fsreplica-*")) == []  # every staged file was published
        with make(src, tmp_path) as rep:
            assert rep.sync_all().files_copied == 0

    def test_a_destination_file_changed_behind_our_back_is_repaired(
        self, src: Path, tmp_path: Path
    ) -> None:
        with make(src, tmp_path) as rep:
            rep.sync_all()
        (tmp_path / "dst" / "d" / "b.txt").write_text("edited at the destination")
        (tmp_path / "dst" / "a.txt").unlink()
        with make(src, tmp_path) as rep:
            report = rep.sync_all()
        assert (report.files_copied, report.unchanged) == (2, 1)
        assert files(tmp_path / "dst") == files(src)

    def test_adopts_an_existing_identical_copy(self, src: Path, tmp_path: Path) -> None:
        with make(src, tmp_path) as rep:
            rep.sync_all()
        os.unlink(tmp_path / "state" / "s.db")
        with make(src, tmp_path) as rep:
            report = rep.sync_all()
        assert (report.files_copied, report.unchanged) == (0, 3)


class TestGuards:
    """Safety guards: overlap, mass deletion, vanished source."""

    def test_destination_inside_source_refused(self, src: Path, tmp_path: Path) -> None:
        with pytest.raises(ReconcileError, match="inside the source"):
            Replicator(src, src / "backup", state=tmp_path / "s.db")
        with pytest.raises(ReconcileError, match="inside the destination"):
            Replicator(src, tmp_path, state=tmp_path / "s.db")

    def test_empty_source_deletes_nothing(self, src: Path, tmp_path: Path) -> None:
        with make(src, tmp_path) as rep:
            rep.sync_all()
        for path in sorted(src.rglob("*"), reverse=True):
            path.rmdir() if path.is_dir() else path.unlink()
        with make(src, tmp_path) as rep:
            report = rep.sync_all()
        assert report.refused is not None
        assert "empty" in report.refused
        assert len(files(tmp_path / "dst")) == 3
        with make(src, tmp_path, max_delete=3) as rep:
            assert rep.sync_all().deleted == 3

    def test_more_than_half_refused(self, src: Path, tmp_path: Path) -> None:
        with make(src, tmp_path) as rep:
            rep.sync_all()
        (src / "a.txt").unlink()
        (src / "d" / "b.txt").unlink()
        with make(src, tmp_path) as rep:
            report = rep.sync_all()
        assert report.refused is not None
        assert "more than half" in report.refused
        assert len(files(tmp_path / "dst")) == 3

    def test_vanished_source(self, src: Path, tmp_path: Path) -> None:
        with make(src, tmp_path) as rep:
            rep.sync_all()
            src.rename(tmp_path / "moved")
            with pytest.raises(ReconcileError):
                rep.sync_all()
        assert len(files(tmp_path / "dst")) == 3


class TestErrors:
    """Unreadable files and failing destinations."""

    @pytest.mark.skipif(os.geteuid() == 0, reason="root reads everything")
    def test_unreadable_file_reported_once(self, src: Path, tmp_path: Path) -> None:
        (src / "a.txt").chmod(0)
        with make(src, tmp_path) as rep:
            report = rep.sync_all()
            assert [key for key, _ in report.failed] == ["a.txt"]
            assert [f.key for f in rep.state.failures()] == ["a.txt"]

    def test_permanent_error_parked_then_retried_next_sync(self, src: Path, tmp_path: Path) -> None:
        dest = MemoryDestination()
        dest.fail("put", DestinationError("put", "memory://", "access denied"), times=1)
        with Replicator(src, dest, state=tmp_path / "s.db", transfers=1) as rep:
            report = rep.sync_all()
            assert len(report.failed) == 1
            assert len(rep.state.failures()) == 1
            report = rep.sync_all()
            assert report.ok
            assert rep.state.failures() == []
        assert len(dest.keys()) == 3

    def test_retryable_errors_are_retried(self, src: Path, tmp_path: Path) -> None:
        dest = MemoryDestination()
        error = DestinationError("put", "memory://", "slow down", retryable=True)
        dest.fail("put", error, times=3)
        with Replicator(src, dest, state=tmp_path / "s.db", transfers=2) as rep:
            report = rep.sync_all()
        assert report.ok
        assert report.files_copied == 3
        assert dest.calls["put"] == 6


class TestOutage:
    """A destination that fails for a while is reported once when it starts and once when over."""

    def test_one_line_when_it_starts_and_one_when_it_ends(
        self, src: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
    ) -> None:
        dest = MemoryDestination()
        error = DestinationError("put", "memory://", "connection refused", retryable=True)
        dest.fail("put", error, times=6)
        with Replicator(src, dest, state=tmp_path / "s.db", transfers=1) as rep:
            report = rep.sync_all()
        assert report.ok
        lines = [r.getMessage() for r in caplog.records if "destination" in r.getMessage()]
        assert len(lines) == 2, lines
        assert lines[0].startswith("destination memory:// unavailable: connection refused; ")
        assert "changes waiting" in lines[0]
        assert lines[1].startswith("destination memory:// available again after ")


class TestThreadFailure:
    """A worker that fails ends sync_all with an InternalError instead of a hang."""

    def test_sync_all_raises(
        self, src: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        def fault(self: Applier, tasks: list[Task]) -> list[Retry | None]:
            raise RuntimeError("injected fault")

        monkeypatch.setattr(Applier, "batch", fault)
        with make(src, tmp_path) as rep, pytest.raises(InternalError) as info:
            rep.sync_all()
        assert info.value.thread.startswith("fsreplica-transfer-")
        assert str(info.value).endswith("RuntimeError: injected fault")


class TestObject:
    """sync_object and verify."""

    def test_sync_object_and_verify(self, src: Path, tmp_path: Path) -> None:
        dest = MemoryDestination()
        with Replicator(src, dest, state=tmp_path / "s.db") as rep:
            rep.sync_object(src / "d" / "b.txt")
            assert dest.keys() == ("d/b.txt",)
            rep.sync_object("a.txt")
            rules = fsreplica.IgnoreRules()
            assert [d.kind for d in verify(str(src), dest, rules=rules)] == ["missing"]
            rep.sync_all()
            assert verify(str(src), dest, rules=rules) == []

    def test_state_in_use(self, src: Path, tmp_path: Path) -> None:
        with State(tmp_path / "s.db"), pytest.raises(fsreplica.FsreplicaError, match="in use"):
            State(tmp_path / "s.db")
