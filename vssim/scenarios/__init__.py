"""Scenarios: changes to a stream (value patches and structural transforms), composed and applied
before a run."""
from vssim.scenarios import organise as _organise  # noqa: F401  (registers the transforms that reorganise teams)
