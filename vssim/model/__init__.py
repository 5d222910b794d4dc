"""The model: a stream as a user writes it (`StreamSpec`, its one table of keys), its
distributions, and the compiled `Plan` that every engine reads."""
from vssim.model.plan import Plan
from vssim.model.spec import StreamSpec, load_stream

__all__ = ["Plan", "StreamSpec", "load_stream"]
