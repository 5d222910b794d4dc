"""The one place that imports numba: `njit` compiles a loop, or leaves it plain Python (the same
results, slowly) where numba is missing.

Importing this module does not import numba; the first `njit(...)` does, so `import vssim`
stays light and a summary or engine pays the import only when it compiles something.
"""
from __future__ import annotations

__all__ = ["available", "njit"]


def available() -> bool:
    """Whether numba is installed (loops are compiled)."""
    try:
        import numba  # noqa: F401
    except ImportError:  # pragma: no cover - numba is a dependency
        return False
    return True


def njit(*args, **kwargs):
    """`numba.njit` with the same arguments (`@njit(cache=True)`, `njit(f)`), or the function
    unchanged without numba."""
    try:
        from numba import njit as numba_njit
    except ImportError:  # pragma: no cover - numba is a dependency
        if args and callable(args[0]):
            return args[0]
        return lambda f: f
    return numba_njit(*args, **kwargs)
