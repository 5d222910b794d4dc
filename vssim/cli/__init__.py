"""The `vssim` command line: the Hydra edge (`app`) and its sweep callbacks. Nothing imports it."""
from vssim.cli.app import main

__all__ = ["main"]
