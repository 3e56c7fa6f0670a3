"""The progress line of `fsreplica sync`: what it draws on a terminal, and nothing elsewhere."""

from __future__ import annotations

import io
import os
import threading
from collections.abc import Callable
from pathlib import Path

from fsreplica.cli._progress import CLEAR, Progress
from fsreplica.replicate import Replicator
from fsreplica.replicate.report import SyncReport

WAIT = 10.0
MiB = 1024 * 1024


class TtyStream(io.StringIO):
    """A text stream that says it is a terminal and lets a test wait for what is drawn."""

    def __init__(self) -> None:
        super().__init__()
        self._changed = threading.Condition()

    def isatty(self) -> bool:
        return True

    def write(self, text: str) -> int:
        with self._changed:
            written = super().write(text)
            self._changed.notify_all()
        return written

    def wait_for(self, predicate: Callable[[str], bool]) -> str:
        """Block until what was written satisfies `predicate`; return it."""
        with self._changed:
            drawn = self._changed.wait_for(lambda: predicate(self.getvalue()), WAIT)
            assert drawn, self.getvalue()[-200:]
            return self.getvalue()


class Clock:
    """A clock that moves only when told to."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def progress_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "fsreplica-progress"]


def test_line_shows_files_bytes_rate_and_eta() -> None:
    report = SyncReport(files_copied=3, bytes_copied=3 * MiB, deleted=1)
    clock, stream = Clock(), TtyStream()
    progress = Progress(lambda: report, 10, stream=stream, clock=clock)
    clock.now += 2.0
    progress.draw()
    # 4 of 10 done in 2 s: 0.5 s each, 6 to go; 3 MiB in 2 s.
    assert stream.getvalue() == f"{CLEAR}4/10 files, 3.0 MiB, 1.5 MiB/s, ETA 3 s"


def test_every_outcome_counts_except_those_settled_before_the_work() -> None:
    report = SyncReport(
        files_copied=1,
        bytes_copied=500,
        deleted=1,
        renamed=1,
        metadata_updated=1,
        unchanged=7,  # 5 known unchanged from the plan, 2 checked and found in place
        failed=[("x", "permission denied")],
    )
    clock = Clock()
    progress = Progress(lambda: report, 8, stream=TtyStream(), settled=5, clock=clock)
    clock.now += 10.0
    assert progress.done() == 7
    assert progress.line() == "7/8 files, 500 B, 50 B/s, ETA 1 s"


def test_eta_unknown_until_a_task_is_done_and_never_past_all_done() -> None:
    report = SyncReport(unchanged=3)
    clock = Clock()
    progress = Progress(lambda: report, 2, stream=TtyStream(), settled=3, clock=clock)
    clock.now += 1.0
    assert progress.line() == "0/2 files, 0 B, 0 B/s, ETA ?"
    report.files_copied = 4  # two replayed from the journal on top of the planned two
    report.bytes_copied = 2048
    assert progress.line() == "2/2 files, 2.0 KiB, 2.0 KiB/s, ETA 0 s"


def test_redraws_while_the_work_runs_then_clears_the_line() -> None:
    report = SyncReport()
    clock, stream = Clock(), TtyStream()
    with Progress(lambda: report, 2, stream=stream, clock=clock, refresh=0.01):
        assert len(progress_threads()) == 1
        stream.wait_for(lambda text: text.endswith("0/2 files, 0 B, 0 B/s, ETA ?"))
        report.files_copied, report.bytes_copied = 1, 4096
        clock.now += 4.0
        stream.wait_for(lambda text: text.endswith("1/2 files, 4.0 KiB, 1.0 KiB/s, ETA 4 s"))
    assert not progress_threads()
    assert stream.getvalue().endswith(CLEAR)
    # Each frame replaces the previous one: no newline ever reaches the terminal.
    assert "\n" not in stream.getvalue()


def test_nothing_when_the_stream_is_not_a_terminal() -> None:
    report = SyncReport(files_copied=1, bytes_copied=10)
    stream = io.StringIO()
    with Progress(lambda: report, 5, stream=stream, refresh=0.001) as progress:
        assert not progress.enabled
        assert not progress_threads()
    assert stream.getvalue() == ""


def test_nothing_when_there_is_nothing_to_do() -> None:
    stream = TtyStream()
    with Progress(SyncReport, 0, stream=stream, refresh=0.001):
        assert not progress_threads()
    assert stream.getvalue() == ""


def test_a_real_sync_ends_with_every_planned_task_done(tmp_path: Path) -> None:
    # Files checked and adopted at the destination count as done, the plan's own unchanged
    # files (not tasks) do not: the line must end at total/total.
    src, dst = tmp_path / "src", tmp_path / "dst"
    src.mkdir()
    for name in ("a", "b"):
        (src / name).write_text(name)
    with Replicator(src, str(dst), state=tmp_path / "s.db") as replicator:
        assert replicator.sync_all().ok
        (src / "new").write_text("new")  # to copy
        for root in (src, dst):  # identical on both sides: adopted, not copied
            (root / "same").write_text("same")
            os.utime(root / "same", ns=(1_000_000_000, 1_000_000_000))
        (dst / "extra").write_text("extra")  # to delete
        plan = replicator.plan()
        assert (len(plan.tasks), len(plan.deletes), plan.unchanged) == (2, 1, 2)
        progress = Progress.for_plan(replicator.progress, plan, stream=TtyStream(), refresh=0.001)
        with progress:
            report = replicator.sync_all(plan)
    assert (report.files_copied, report.deleted, report.unchanged) == (1, 1, 3)
    assert progress.done() == progress.total == 3
    assert progress.line().startswith("3/3 files, 3 B, ")


def test_a_streaming_sync_counts_every_outcome_against_what_it_expects_so_far() -> None:
    # While the reconcile walks, the total is what it has found so far; files in place count.
    tally = SyncReport(files_copied=3, bytes_copied=3 * MiB, unchanged=2, expected=10)
    clock = iter(range(100)).__next__
    progress = Progress.for_sync(lambda: tally, stream=TtyStream(), clock=lambda: float(clock()))
    assert progress.enabled
    assert progress.done() == 5
    assert progress.line().startswith("5/10 files, 3.0 MiB, ")
    tally.expected = 4  # replayed journal changes are not expected: never past all done
    assert progress.line().startswith("4/4 files, ")


def test_a_real_streaming_sync_ends_with_all_done(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    for name in ("a", "b", "c"):
        (src / name).write_text(name)
    with Replicator(src, str(tmp_path / "dst"), state=tmp_path / "s.db") as replicator:
        assert replicator.sync_all().ok
        (src / "d").write_text("d")
        (src / "a").unlink()
        progress = Progress.for_sync(replicator.progress, stream=TtyStream(), refresh=0.001)
        with progress:
            report = replicator.sync_all()
    assert (report.files_copied, report.deleted, report.unchanged) == (1, 1, 2)
    assert progress.done() == report.expected == 4
    assert progress.line().startswith("4/4 files, ")
