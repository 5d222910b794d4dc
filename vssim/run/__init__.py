"""Running: `simulate` (replications of one stream), experiments (scenarios compared on common
random numbers), sweeps and their collection."""
