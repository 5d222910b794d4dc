"""The SimPy engine: event by event, every feature of the model (the reference)."""
