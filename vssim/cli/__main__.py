"""`python -m vssim.cli ...`: the `vssim` command."""
from vssim.cli.app import main

main()
