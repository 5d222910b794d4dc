"""Reports: markdown reports, figures and the board animation, drawn from results (never from an
engine)."""
