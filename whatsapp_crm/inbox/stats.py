"""Response-time statistics for the inbox's report: medians and 90th percentiles of durations in seconds.
A median says what a customer usually waits; the 90th percentile, how long the slow tenth waits."""

from __future__ import annotations

import math
from collections.abc import Iterable


def percentile(values: Iterable[float | None], p: float) -> float | None:
	"""The ``p``th percentile (0 to 100) of the values, interpolating linearly between the closest ranks as
	numpy's default does; None without values. None values (a cycle not answered yet) are left out."""
	if not 0 <= p <= 100:
		raise ValueError(f"a percentile is from 0 to 100, not {p}")
	ordered = sorted(float(v) for v in values if v is not None)
	if not ordered:
		return None
	rank = (len(ordered) - 1) * p / 100
	low, high = math.floor(rank), math.ceil(rank)
	return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def summary(values: Iterable[float | None]) -> dict:
	"""{"count", "median", "p90"} of the values (None values left out; median and p90 None without any)."""
	kept = [v for v in values if v is not None]
	return {"count": len(kept), "median": percentile(kept, 50), "p90": percentile(kept, 90)}
