"""vssim: a discrete-event value stream simulator.

    import vssim
    spec = vssim.load_stream("configs/stream/dvs_basic.yaml")
    result = vssim.simulate(spec, horizon=2000, warmup=200, replications=10, seed=1)
    result.summary["metrics"]["lead_time"]

docs/architecture.md: the layers (model, engines, records, analysis, scenarios, report, run, cli)
and where each kind of change goes.
"""
from vssim.analysis.result import SimResult
from vssim.data import BoardState, EventLog, read_log, read_state
from vssim.errors import DeadlockError, SpecError, VssimError
from vssim.model.spec import StreamSpec, load_stream
from vssim.model.transition import Transition
from vssim.run.simulate import simulate
from vssim.studies.calibrate import Calibration, calibrate

__all__ = ["BoardState", "Calibration", "DeadlockError", "EventLog", "SimResult", "SpecError", "StreamSpec",
           "Transition", "VssimError", "calibrate", "load_stream", "read_log", "read_state", "simulate"]
__version__ = "0.1.0"
