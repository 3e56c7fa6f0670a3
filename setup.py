"""Build the optional C extension; everything else is declared in pyproject.toml."""

import sys

from setuptools import Extension, setup

# `optional`: a machine without a C compiler still installs fsreplica, and the polling backend
# uses its os.scandir implementation (src/fsreplica/watch/_listing.py).
EXTENSIONS = (
    []
    if sys.platform == "win32"
    else [
        Extension(
            "fsreplica.watch._scan",
            ["src/fsreplica/watch/_scan.c"],
            optional=True,
            extra_compile_args=["-O2"],
        ),
        # A local destination's listing (os.scandir in src/fsreplica/destinations/_listdir.py
        # without it).
        Extension(
            "fsreplica.destinations._lsdir",
            ["src/fsreplica/destinations/_lsdir.c"],
            optional=True,
            extra_compile_args=["-O2"],
        ),
    ]
)

setup(ext_modules=EXTENSIONS)
