"""The loopback guard in every Python process the tests start (see tests/netguard.py).

tests/conftest.py puts this directory first on the PYTHONPATH of the test run, so each child
Python (`python -m fsreplica ...`) imports this at start-up: it installs the same audit hook,
which refuses a connection that would leave the machine and appends a line to the file named by
FSREPLICA_NETGUARD_LOG, where the test's fixture finds it. Then the sitecustomize this one hides
(Debian's, for instance) runs as it would have.
"""

import importlib.machinery
import importlib.util
import os
import sys


def _install() -> None:
    log = os.environ.get("FSREPLICA_NETGUARD_LOG")
    if not log:
        return
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    try:
        import netguard  # noqa: PLC0415 (found only with this path)
    finally:
        del sys.path[0]
    netguard.install(log=log)


def _chain() -> None:
    here = os.path.dirname(os.path.abspath(__file__))
    others = [p for p in sys.path if os.path.abspath(p or ".") != here]
    spec = importlib.machinery.PathFinder.find_spec("sitecustomize", others)
    if spec is not None and spec.loader is not None:
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)


try:
    _install()
except Exception as exc:  # never stop a child from starting
    print(f"netguard: not installed in this process: {exc!r}", file=sys.stderr)
_chain()
