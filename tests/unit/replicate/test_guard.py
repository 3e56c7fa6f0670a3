"""The mass-delete guard: one policy and one wording for a reconcile's plan and live deletes."""

from __future__ import annotations

from pathlib import Path

import pytest

from fsreplica.replicate.guard import SINCE_RECONCILE, DeleteGuard, refusal


class TestRefusal:
    """What a reconcile's plan is refused for."""

    @pytest.mark.parametrize(
        ("deletes", "source_empty", "dest_count", "max_delete", "refused"),
        [
            (5, False, 10, None, None),  # half: allowed
            (6, False, 10, None, "would delete 6 files, more than half of the 10 files"),
            (1, True, 3, None, "source is empty (unmounted?) while the destination holds 3 files"),
            (6, False, 10, 6, None),
            (7, False, 10, 6, "would delete 7 files, more than --max-delete 6"),
            (10, True, 10, -1, None),  # no limit, even for an empty source
        ],
    )
    def test_table(
        self,
        deletes: int,
        source_empty: bool,
        dest_count: int,
        max_delete: int | None,
        refused: str | None,
    ) -> None:
        reason = refusal(
            deletes, source_empty=source_empty, dest_count=dest_count, max_delete=max_delete
        )
        if refused is None:
            assert reason is None
        else:
            assert reason is not None
            assert reason.startswith(refused), reason
            assert ("pass --max-delete to allow" in reason) == (max_delete is None)


class TestLive:
    """Deletes seen live count against the same limits until the next reconcile."""

    @pytest.fixture
    def root(self, tmp_path: Path) -> str:
        (tmp_path / "kept").write_text("x")
        return str(tmp_path)

    def test_nothing_is_counted_before_a_reconcile(self, root: str) -> None:
        guard = DeleteGuard(root, max_delete=0)
        assert not guard.watching
        assert guard.delete() is None

    def test_net_deletes_past_half_are_refused_in_the_plans_words(self, root: str) -> None:
        guard = DeleteGuard(root, max_delete=None)
        guard.watch(4)
        assert [guard.delete(), guard.delete()] == [None, None]
        reason = guard.delete()
        assert reason == refusal(
            3, source_empty=False, dest_count=4, max_delete=None, since=SINCE_RECONCILE
        )
        assert reason is not None
        assert "more than half of the 4 files" in reason
        guard.added()  # a new file put live: one more delete is net zero
        guard.added()
        assert guard.delete() is None

    def test_max_delete_and_an_empty_source(self, tmp_path: Path) -> None:
        guard = DeleteGuard(str(tmp_path), max_delete=None)
        guard.watch(10)
        reason = guard.delete()
        assert reason is not None
        assert reason.startswith("source is empty (unmounted?)")
        limited = DeleteGuard(str(tmp_path), max_delete=1)
        limited.watch(10)
        assert limited.delete() is None
        assert limited.delete() == (
            "would delete 2 files since the last reconcile, more than --max-delete 1"
        )

    def test_the_first_refusal_once_per_reconcile(self, root: str) -> None:
        guard = DeleteGuard(root, max_delete=None)
        guard.watch(1)
        assert [guard.first_refusal(), guard.first_refusal()] == [True, False]
        guard.watch(1)
        assert guard.first_refusal()


class TestMoved:
    """A source on another filesystem than recorded (unmounted?) has its deletions refused."""

    def test_table(self) -> None:
        guard = DeleteGuard("/src", max_delete=None)
        assert guard.moved(recorded=None, device="1") is None  # the first reconcile records it
        assert guard.moved(recorded="1", device="1") is None
        reason = guard.moved(recorded="1", device="2")
        assert reason is not None
        assert reason.startswith("source is on another filesystem than before (unmounted?)")
        assert reason.endswith("pass --max-delete to allow")
        assert DeleteGuard("/src", max_delete=5).moved(recorded="1", device="2") is None
