"""Studies that run simulations for an answer: calibration (`calibrate.py`), and later forecasts
and designed experiments."""
