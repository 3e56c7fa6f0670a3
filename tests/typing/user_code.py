"""Realistic user code, checked by `mypy --strict` (see pyproject's [tool.mypy] files)."""

from __future__ import annotations

import asyncio
import logging

import fsreplica


def watch_and_print(root: str) -> int:
    config = fsreplica.WatcherConfig(
        debounce_delay=0.2,
        event_buffer=200,
        logger=logging.getLogger("app"),
        ignore=[*fsreplica.DEFAULT_IGNORE, "node_modules"],
    )
    count = 0
    with fsreplica.Watcher(config) as watcher:
        watcher.watch(root)
        try:
            for event in watcher.events():
                op: fsreplica.Operation = event.operation
                path: str = event.path
                key: str = event.key
                moved: str | None = event.moved_from
                print(op, path, key, moved, event.timestamp.isoformat())
                count += 1
                if op == "delete":
                    break
        except fsreplica.WatcherError as exc:
            print(exc.op, exc.path, exc.err)
    return count


async def watch_async(root: str) -> list[fsreplica.FileSystemEvent]:
    got: list[fsreplica.FileSystemEvent] = []
    watcher = fsreplica.Watcher()
    watcher.watch(root)
    async for event in watcher.aevents():
        got.append(event)
        if len(got) == 3:
            watcher.stop()
    stats: fsreplica.WatcherStats = watcher.stats
    print(stats.overflows)
    return got


def replicate_once(src: str, dest: str) -> None:
    destination = fsreplica.open_destination(dest)
    with fsreplica.Replicator(src, destination) as replicator:
        report = replicator.sync_all()
        print(report)
        so_far: fsreplica.SyncReport = replicator.progress()
        print(so_far.files_copied, so_far.summary())


def restore_to(dest: str, target: str) -> bool:
    from fsreplica.restore import Overwrite, Restore, RestoreReport, restore  # noqa: PLC0415

    destination = fsreplica.open_destination(dest)
    try:
        report: RestoreReport = restore(destination, target, transfers=4)
        job = Restore(destination, target, force=True, overwrite=Overwrite.NEVER, dry_run=True)
        planned = job.run().planned
    finally:
        destination.close()
    for key, reason in report.failed:
        print(key, reason)
    return report.ok and not planned


if __name__ == "__main__":
    asyncio.run(watch_async("."))
