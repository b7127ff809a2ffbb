"""Catch-up: read back from the gateway's own store what the webhooks did not deliver. Never imports frappe.

A reconcile covers one *window* of gateway time, ``[watermark - margin, now]``, page by page. The window's
bounds are fixed when it starts, so pages stay stable while new messages arrive (those belong to the next
window). A run is bounded (pages, seconds); an unfinished window is kept in ``SyncState`` and the next run
goes on from its cursor. Only a finished window moves the watermark, to the window's end: the watermark is
"everything the gateway knew up to here is stored". (Moving it to the newest *stored* message, as webhooks
arrive, would skip a gap: after an outage the first webhook is newer than every message that was missed.)

Storing goes through a callback (the Frappe side's once-only path, shared with the webhook), so a message
seen twice, by webhook and by catch-up or in two overlapping windows, is stored once.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace

from .client import GatewayClient
from .errors import BadResponse, GatewayError
from .messaging import Ack, InboundMessage

MARGIN_S = 600  # clock skew between gateway and site, and webhooks still in flight
FIRST_LOOKBACK_S = 3600  # a session with no watermark yet looks back this far
MAX_WINDOW_PAGES = 400  # a window that needs more is a gateway paging forever
PAGE_SIZE = 50

# What the store callback says of one message.
STORED, DUPLICATE, SKIPPED = "stored", "duplicate", "skipped"


@dataclass(frozen=True)
class SyncState:
	"""Kept with the session between runs. Times are gateway unix seconds."""

	watermark: int | None = None
	window_since: int | None = None
	window_until: int | None = None
	cursor: str | None = None
	window_pages: int = 0

	@property
	def in_window(self) -> bool:
		return self.window_since is not None and self.window_until is not None


@dataclass
class SyncResult:
	state: SyncState
	stored: int = 0
	duplicates: int = 0
	skipped: int = 0  # not a person's message, or a privacy id with no number
	acks: int = 0
	pages: int = 0
	complete: bool = False  # the window was finished (the watermark moved)
	error: GatewayError | None = None


StoreFn = Callable[[InboundMessage], str]
AckFn = Callable[[Ack], None]
KnownFn = Callable[[list[InboundMessage]], set[str]]


class Reconciler:
	"""One session's catch-up against one gateway client."""

	def __init__(
		self,
		client: GatewayClient,
		session_id: str,
		*,
		margin_s: int = MARGIN_S,
		max_pages: int = 20,
		budget_s: float = 30.0,
		page_size: int = PAGE_SIZE,
		clock: Callable[[], float] = time.time,
		monotonic: Callable[[], float] = time.monotonic,
	) -> None:
		self.client = client
		self.session_id = session_id
		self.margin_s = max(0, int(margin_s))
		self.max_pages = max(1, int(max_pages))
		self.budget_s = max(1.0, float(budget_s))
		self.page_size = max(1, min(int(page_size), 100))
		self.clock = clock
		self.monotonic = monotonic

	def window_for(self, state: SyncState, since: int | None = None) -> SyncState:
		"""The state with a window: the one in progress, or a new one from ``since`` (by hand) or the watermark."""
		if state.in_window and since is None:
			return state
		now = int(self.clock())
		if since is None:
			since = (
				state.watermark if state.watermark is not None else now - FIRST_LOOKBACK_S
			) - self.margin_s
		since = max(0, min(int(since), now))
		return replace(
			state, window_since=since, window_until=now + self.margin_s, cursor=None, window_pages=0
		)

	def run(
		self,
		state: SyncState,
		store: StoreFn,
		ack: AckFn,
		*,
		since: int | None = None,
		known: KnownFn | None = None,
		after_page: Callable[[SyncState], None] | None = None,
	) -> SyncResult:
		"""Read pages of the window until it ends or this run's bound is reached. ``known`` names the ids
		already stored among a page's messages (one query a page instead of one a message); the rest go
		through ``store``; ``after_page`` gets the state after each page (to make it durable: a run that
		dies goes on from there). A gateway error ends the run and is returned, with the window kept."""
		state = self.window_for(state, since)
		result = SyncResult(state)
		started = self.monotonic()
		seen_cursors = {state.cursor} if state.cursor else set()
		while result.pages < self.max_pages:
			left = self.budget_s - (self.monotonic() - started)
			if left <= 0:
				break
			try:
				page = self.client.read_messages(
					self.session_id,
					since=state.window_since,
					until=state.window_until,
					cursor=state.cursor,
					limit=self.page_size,
					timeout=left,
				)
			except GatewayError as e:
				result.error = e
				break
			result.pages += 1
			result.skipped += page.skipped
			self._store_page(page.messages, store, known, result)
			for receipt in page.acks:
				ack(receipt)
				result.acks += 1
			pages = state.window_pages + 1
			if page.next_cursor is None:
				state = SyncState(watermark=max(state.watermark or 0, state.window_until - self.margin_s))
				result.complete = True
				break
			if page.next_cursor in seen_cursors or pages >= MAX_WINDOW_PAGES:
				# A gateway that hands back a cursor it gave before, or pages forever: give this window up
				# (the watermark stays, so the next window covers the same time again).
				result.error = BadResponse(
					f"the gateway's message pages do not end ({pages} pages, cursor {page.next_cursor[:40]!r})"
				)
				state = SyncState(watermark=state.watermark)
				break
			seen_cursors.add(page.next_cursor)
			state = replace(state, cursor=page.next_cursor, window_pages=pages)
			if after_page is not None:
				after_page(state)
		result.state = state
		return result

	def _store_page(
		self,
		messages: tuple[InboundMessage, ...],
		store: StoreFn,
		known: KnownFn | None,
		result: SyncResult,
	) -> None:
		# Oldest first, so a chat's messages are stored in the order they were written (a gateway that pages
		# newest first lists messages of the same second newest first too).
		if self.client.history_newest_first:
			messages = tuple(reversed(messages))
		ordered = sorted(messages, key=lambda m: m.timestamp or 0)
		already = known(ordered) if known is not None and ordered else set()
		for message in ordered:
			if message.id in already:
				result.duplicates += 1
				continue
			outcome = store(message)
			if outcome == STORED:
				result.stored += 1
			elif outcome == DUPLICATE:
				result.duplicates += 1
			else:
				result.skipped += 1
