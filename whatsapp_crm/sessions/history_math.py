"""How long a session was Connected over a window, from its status changes (no Frappe here: tested in CI).

The history is a step function: each event sets the status from its time on. The status at the window's start is
the one the last event before it set; before the first event ever, the session counts as not connected (there
is nothing to say it was). Events dated after ``end`` (a clock that ran ahead on some host) are ignored rather
than allowed to stretch or invert the window.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from whatsapp_crm.gateway.acquire import CONNECTED


def connected_share(
	events: Iterable[tuple[datetime, str]],
	start: datetime,
	end: datetime,
	before: str | None = None,
) -> float:
	"""The share (0..1) of ``start``..``end`` spent Connected.

	``events`` are ``(time, to_status)`` pairs in any order; those before ``start`` only decide the status at
	the start. ``before`` is the status at ``start`` when the caller read it separately (the last event before
	the window); an event before ``start`` in ``events`` overrides it if it is later.
	"""
	span = (end - start).total_seconds()
	if span <= 0:
		return 0.0
	status = before
	inside: list[tuple[datetime, str]] = []
	for when, to_status in sorted(events, key=lambda e: e[0]):
		if when > end:
			break  # future-dated: ignored (sorted, so every later one is too)
		if when <= start:
			status = to_status
		else:
			inside.append((when, to_status))

	connected = 0.0
	since = start
	for when, to_status in inside:
		if status == CONNECTED:
			connected += (when - since).total_seconds()
		status, since = to_status, when
	if status == CONNECTED:
		connected += (end - since).total_seconds()
	return min(1.0, max(0.0, connected / span))
