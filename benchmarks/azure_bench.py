"""fsreplica vs rclone's azureblob backend to Azurite (Microsoft's emulator, started here).

    python benchmarks/azure_bench.py [--small 5000] [--big 5] [--repeat 3] [--transfers 16]
                                     [--json FILE]

Rows: a full `sync` of the tree, then a re-sync with nothing changed, by fsreplica and by rclone
(by default, and with --fast-list --update --use-server-modtime), each to a fresh container of
the same Azurite; medians of --repeat runs, wall and client CPU (the children's user+sys time).
rclone reaches Azurite's custom port through a container SAS URL (its `endpoint` option is a
host suffix). Azurite is an emulator in Node.js keeping blobs in memory: the figures compare the
two clients against one server, they are not Azure's speed. Needs Azurite
(scripts/install-test-deps.sh) and rclone (Debian's `rclone`).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "benchmarks"))

import _rows_json  # noqa: E402
from s3_bench import make_tree, timed  # noqa: E402

from servers import azurite  # noqa: E402


class Bench:
    """Both clients against one Azurite, each sync to a container of its own."""

    def __init__(self, work: Path, transfers: int) -> None:
        self.work, self.transfers = work, transfers
        self.endpoint = azurite.endpoint()
        base = {k: v for k, v in os.environ.items() if not k.startswith(("AZURE_", "RCLONE_"))}
        self.fsr_env = azurite.env(work)
        self.rclone_base = {**base, "RCLONE_CONFIG_AZ_TYPE": "azureblob"}

    def container(self) -> str:
        return azurite.new_container()

    def fsr_sync(self, src: Path, container: str, state: Path) -> tuple[float, float]:
        cmd = [sys.executable, "-m", "fsreplica", "sync", str(src), f"az://{container}/t"]
        cmd += ["--state", str(state), "--transfers", str(self.transfers), "-q"]
        return timed(cmd, self.fsr_env)

    def rclone_sync(self, src: Path, container: str, *flags: str) -> tuple[float, float]:
        from azure.storage.blob import (  # noqa: PLC0415
            ContainerSasPermissions,
            generate_container_sas,
        )

        sas = generate_container_sas(
            azurite.ACCOUNT,
            container,
            account_key=azurite.KEY,
            permission=ContainerSasPermissions(
                read=True, add=True, create=True, write=True, delete=True, list=True
            ),
            expiry=datetime.now(UTC) + timedelta(hours=2),
        )
        env = {**self.rclone_base, "RCLONE_CONFIG_AZ_SAS_URL": f"{self.endpoint}/{container}?{sas}"}
        cmd = ["rclone", "sync", str(src), f"az:{container}/t"]
        cmd += ["--transfers", str(self.transfers), *flags]
        return timed(cmd, env)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", type=int, default=5000)
    parser.add_argument("--big", type=int, default=5)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--transfers", type=int, default=16)
    parser.add_argument("--json", help="write the figures to this file too (read by plot.py)")
    args = parser.parse_args()
    load_before = os.getloadavg()
    if shutil.which("rclone") is None:
        raise SystemExit("rclone is not installed (apt-get install rclone)")
    work = Path(tempfile.mkdtemp(prefix="fsreplica-azure-bench-"))
    try:
        bench = Bench(work, args.transfers)
        src = work / "src"
        total = make_tree(src, args.small, args.big)
        files = args.small + args.big
        print(f"tree: {files} files, {total / 2**20:.0f} MiB; azurite {bench.endpoint}")
        rows: dict[str, list[tuple[float, float]]] = {}
        fast = ("--fast-list", "--update", "--use-server-modtime")
        t = args.transfers
        for _ in range(args.repeat):
            container, state = bench.container(), work / f"state-{uuid.uuid4().hex}.db"
            rows.setdefault(f"fsreplica sync --transfers {t}", []).append(
                bench.fsr_sync(src, container, state)
            )
            rows.setdefault("fsreplica re-sync, no change", []).append(
                bench.fsr_sync(src, container, state)
            )
            azurite.delete_container(container)
            container = bench.container()
            rows.setdefault(f"rclone sync --transfers {t}", []).append(
                bench.rclone_sync(src, container)
            )
            rows.setdefault("rclone re-sync, no change", []).append(
                bench.rclone_sync(src, container)
            )
            rows.setdefault("rclone re-sync --fast-list --update --use-server-modtime", []).append(
                bench.rclone_sync(src, container, *fast)
            )
            azurite.delete_container(container)
        print(f"\n{'row':60} {'wall s':>8} {'cpu s':>8}")
        med = {}
        for name, values in rows.items():
            med[name] = (
                statistics.median(v[0] for v in values),
                statistics.median(v[1] for v in values),
            )
            print(f"{name:60} {med[name][0]:8.2f} {med[name][1]:8.2f}")
        f, r = med[f"fsreplica sync --transfers {t}"], med[f"rclone sync --transfers {t}"]
        print(f"\nsync: wall {f[0] / r[0]:.2f}x rclone, cpu {f[1] / r[1]:.2f}x rclone")
        f = med["fsreplica re-sync, no change"]
        r = med["rclone re-sync --fast-list --update --use-server-modtime"]
        print(f"no-change re-sync: {f[0]:.2f} s vs rclone's best {r[0]:.2f} s ({f[0] / r[0]:.2f}x)")
        print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
        _rows_json.write(
            args.json,
            bench="azure",
            rows=_rows_json.medians(rows),
            pairs=[
                (f"sync t={t}", f"fsreplica sync --transfers {t}", f"rclone sync --transfers {t}"),
                (
                    "no-change re-sync, rclone's best",
                    "fsreplica re-sync, no change",
                    "rclone re-sync --fast-list --update --use-server-modtime",
                ),
            ],
            loadavg_before=load_before,
            files=files,
            mib=total / 2**20,
            repeat=args.repeat,
        )
    finally:
        azurite.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
