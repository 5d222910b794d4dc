"""Analysis: from records to the summary (flow metrics and their intervals), and what is read from
summaries: comparisons, bottlenecks, value stream maps, queueing theory, WIP curves, objectives."""
