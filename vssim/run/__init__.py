"""Running: `simulate` (replications of one stream), experiments (scenarios compared on common
random numbers, the pilot runs transforms ask for, a composed config run), sweeps, their
collection and the status of each run directory."""
