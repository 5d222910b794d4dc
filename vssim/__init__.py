"""vssim: a discrete-event value stream simulator.

    import vssim
    spec = vssim.load_stream("configs/stream/dvs_basic.yaml")
    result = vssim.simulate(spec, horizon=2000, warmup=200, replications=10, seed=1)
    result.summary["metrics"]["lead_time"]
"""
from vssim.errors import DeadlockError, SpecError, VssimError
from vssim.simulate import SimResult, simulate
from vssim.spec import StreamSpec, load_stream

__all__ = ["DeadlockError", "SimResult", "SpecError", "StreamSpec", "VssimError", "load_stream", "simulate"]
__version__ = "0.1.0"
