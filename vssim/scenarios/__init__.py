"""Scenarios: changes to a stream (value patches and structural transforms), composed and applied
before a run."""
