"""The max-plus engine (`engine="fast"`): exact recursions for the serial FIFO lines it qualifies."""
from vssim.engines.maxplus.engine import MaxPlusEngine, why_not

__all__ = ["MaxPlusEngine", "why_not"]
