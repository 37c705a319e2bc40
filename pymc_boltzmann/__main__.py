"""Run the command line interface as ``python -m pymc_boltzmann``."""

import sys

from pymc_boltzmann.cli import main

sys.exit(main())
