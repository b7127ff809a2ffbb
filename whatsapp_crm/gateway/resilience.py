"""Shared-state guards for a gateway used by many workers and hosts: a circuit breaker and a sliding-window
rate limiter. State lives in a small key-value ``Store`` (Redis in Frappe, a dict in tests), never in process
memory, so every web worker and background job sees the same answer.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from . import errors

# Failures that say "the gateway itself is down or stuck": the breaker opens on these only.
BREAKER_CODES = frozenset({errors.TIMEOUT, errors.UNREACHABLE})


class Store(Protocol):
	def get(self, key: str) -> str | None: ...

	def set(self, key: str, value: str, ttl_s: float) -> None: ...

	def delete(self, key: str) -> None: ...


class MemoryStore:
	"""A Store for tests and the CLI: a dict with expiry on the injected clock."""

	def __init__(self, clock: Callable[[], float] = time.time) -> None:
		self._data: dict[str, tuple[str, float]] = {}
		self._clock = clock
		self._lock = threading.Lock()

	def get(self, key: str) -> str | None:
		with self._lock:
			item = self._data.get(key)
			if item is None or item[1] <= self._clock():
				self._data.pop(key, None)
				return None
			return item[0]

	def set(self, key: str, value: str, ttl_s: float) -> None:
		with self._lock:
			self._data[key] = (value, self._clock() + ttl_s)

	def delete(self, key: str) -> None:
		with self._lock:
			self._data.pop(key, None)


@dataclass(frozen=True)
class BreakerState:
	open: bool
	code: str | None = None
	retry_in_s: float = 0.0
	failures: int = 0


class CircuitBreaker:
	"""After a timeout or an unreachable gateway, answer at once for a back-off period instead of sending
	every poll to a dead gateway. The period doubles with each failure in a row (base, 2x, 4x... up to max).

	With ``distinct`` > 1 a failure names its ``source`` (a session): the breaker opens only when that many
	different sources failed within ``window_s``, or when a call about the gateway itself failed (source
	None). One session whose calls hang then delays nobody else; its own schedule backs it off."""

	def __init__(
		self,
		store: Store,
		key: str,
		*,
		base_s: float = 5.0,
		max_s: float = 60.0,
		distinct: int = 1,
		window_s: float = 30.0,
		clock: Callable[[], float] = time.time,
	) -> None:
		self.store, self.key, self.base_s, self.max_s, self.clock = store, key, base_s, max_s, clock
		self.distinct, self.window_s = max(1, distinct), window_s

	def _load(self) -> dict:
		raw = self.store.get(self.key)
		try:
			data = json.loads(raw) if raw else {}
		except ValueError:
			return {}
		return data if isinstance(data, dict) else {}

	def state(self) -> BreakerState:
		data = self._load()
		retry_in = float(data.get("until", 0)) - self.clock()
		failures = int(data.get("failures", 0))
		if retry_in > 0:
			return BreakerState(True, data.get("code"), round(retry_in, 3), failures)
		return BreakerState(False, None, 0.0, failures)

	def record(self, code: str | None, source: str | None = None) -> BreakerState:
		"""Record one call's result (its error code, or None for success), for ``source`` (a session), or
		for the gateway as a whole when ``source`` is None."""
		data = self._load()
		now = self.clock()
		if code not in BREAKER_CODES:
			if code is None:
				failing = {k: v for k, v in data.get("sources", {}).items() if k != (source or "*")}
				if source is None or not failing or float(data.get("until", 0)) > now:
					self.store.delete(self.key)  # the gateway answered: it is up
				else:
					self.store.set(self.key, json.dumps({**data, "sources": failing}), ttl_s=self.max_s * 2)
			return self.state()
		sources = {k: v for k, v in data.get("sources", {}).items() if now - float(v) <= self.window_s}
		sources[source or "*"] = now
		if source is not None and "*" not in sources and len(sources) < self.distinct:
			# One session's trouble: remembered, not yet the gateway's.
			self.store.set(
				self.key, json.dumps({**data, "sources": sources}), ttl_s=self.window_s + self.max_s
			)
			return self.state()
		failures = int(data.get("failures", 0)) + 1
		period = min(self.base_s * 2 ** (failures - 1), self.max_s)
		data = {"until": now + period, "failures": failures, "code": code, "sources": sources}
		# keep the failure count a while after the period, so the next failure backs off further
		self.store.set(self.key, json.dumps(data), ttl_s=period + self.max_s)
		return BreakerState(True, code, period, failures)


@dataclass(frozen=True)
class RateDecision:
	allowed: bool
	remaining: int
	retry_after_s: float


class SlidingWindowLimit:
	"""At most ``limit`` events per ``window_s`` for one key (e.g. pairing codes per session)."""

	def __init__(
		self, store: Store, key: str, *, limit: int, window_s: float, clock: Callable[[], float] = time.time
	) -> None:
		self.store, self.key, self.limit, self.window_s, self.clock = store, key, limit, window_s, clock

	def _recent(self) -> list[float]:
		raw = self.store.get(self.key)
		try:
			stamps = [float(t) for t in json.loads(raw)] if raw else []
		except (ValueError, TypeError):
			stamps = []
		since = self.clock() - self.window_s
		return sorted(t for t in stamps if t > since)

	def peek(self) -> RateDecision:
		recent = self._recent()
		if len(recent) < self.limit:
			return RateDecision(True, self.limit - len(recent), 0.0)
		return RateDecision(False, 0, round(recent[0] + self.window_s - self.clock(), 3))

	def hit(self) -> RateDecision:
		"""Count one event if allowed; callers serialise hits for one key (a lock) when it matters."""
		decision = self.peek()
		if decision.allowed:
			recent = [*self._recent(), self.clock()]
			self.store.set(self.key, json.dumps(recent), ttl_s=self.window_s)
			return RateDecision(True, self.limit - len(recent), 0.0)
		return decision
