"""vssim."""
