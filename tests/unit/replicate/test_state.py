"""The state database: records read one, many or all at a time."""

from __future__ import annotations

from pathlib import Path

from fsreplica.replicate.state import FileRecord, State


def record(key: str, size: int = 1) -> FileRecord:
    return FileRecord(key, size, 10, 20, 30, 0o644, None, 10)


class TestRecords:
    """get, get_many and all_files agree."""

    def test_get_many_returns_the_existing_ones(self, tmp_path: Path) -> None:
        with State(tmp_path / "s.db") as state:
            with state.transaction() as db:
                for n in range(5):
                    state.record(db, record(f"k{n}", n))
            assert state.get_many(["k1", "missing", "k3"]) == {
                "k1": record("k1", 1),
                "k3": record("k3", 3),
            }
            assert state.get_many(["k4"]) == {"k4": record("k4", 4)}
            assert state.get_many(["missing"]) == {}
            assert state.all_files()["k2"] == state.get("k2") == record("k2", 2)
