"""`python -m fsreplica` runs the command line."""

import sys

from fsreplica.cli import main

sys.exit(main())
