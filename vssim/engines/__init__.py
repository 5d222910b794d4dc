"""Engines: the ways to simulate a `Plan` into records. Each engine implements the `Engine`
protocol; the registry is what `engine="auto"` asks."""
