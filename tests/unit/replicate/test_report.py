"""The live tally of a replication and its snapshots."""

from __future__ import annotations

import threading

from fsreplica.replicate.report import Report, SyncReport, human


class TestReport:
    """Counted through methods from many threads; read as snapshots."""

    def test_counts_from_many_threads(self) -> None:
        report = Report()

        def work() -> None:
            for _ in range(1000):
                report.copied(1, 10)
                report.unchanged()

        threads = [threading.Thread(target=work, name="fsreplica-test") for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        snap = report.snapshot()
        assert (snap.files_copied, snap.bytes_copied, snap.unchanged) == (4000, 40_000, 4000)

    def test_a_snapshot_is_not_updated_and_reset_starts_again(self) -> None:
        report = Report()
        report.failed("a", "denied")
        report.skipped([("b", "fifo")])
        report.refused("why")
        report.deleted()
        report.renamed()
        report.metadata_updated()
        snap = report.snapshot()
        report.failed("c", "denied")
        assert snap == SyncReport(
            deleted=1,
            renamed=1,
            metadata_updated=1,
            skipped=[("b", "fifo")],
            failed=[("a", "denied")],
            refused="why",
        )
        assert not snap.ok
        report.reset()
        assert report.snapshot() == SyncReport()

    def test_summary(self) -> None:
        snap = SyncReport(files_copied=2, bytes_copied=3 * 1024 * 1024, unchanged=1)
        assert snap.summary() == "2 copied (3.0 MiB), 0 deleted, 0 renamed, 1 unchanged, 0 failed"
        assert human(512) == "512 B"
