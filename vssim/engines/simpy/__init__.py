"""The SimPy engine: event by event, every feature of the model (the reference)."""
from vssim.engines.simpy.engine import SimPyEngine

__all__ = ["SimPyEngine"]
