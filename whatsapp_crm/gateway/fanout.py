"""Gateway reads in threads, each on its own clock (no round waits for its slowest read).

The watcher and the sweep hand reads to a ``Fanout`` and take results back, in their own thread, as each one
finishes. At most ``max_parallel`` reads are in flight, and at most ``per_key`` for one key (a gateway), so a
gateway whose calls hang holds only its own share of the threads. Reads never touch Frappe: the caller does
the database work with what comes back.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Any


@dataclass
class Finished:
	item: str  # what the caller started it for (a session)
	key: str  # whose share it took (a gateway)
	result: Any = None
	error: BaseException | None = None
	elapsed_s: float = 0.0


class Fanout:
	def __init__(self, max_parallel: int = 8, per_key: int = 4, name: str = "wa-read") -> None:
		self.max_parallel, self.per_key = max(1, max_parallel), max(1, per_key)
		self._pool = ThreadPoolExecutor(max_workers=self.max_parallel, thread_name_prefix=name)
		self._running: dict[Future, tuple[str, str, float]] = {}

	def __enter__(self) -> Fanout:
		return self

	def __exit__(self, *exc: object) -> None:
		self.abandon()

	def busy(self, item: str) -> bool:
		return any(i == item for i, _k, _t in self._running.values())

	def in_flight(self, key: str | None = None) -> int:
		return sum(1 for _i, k, _t in self._running.values() if key is None or k == key)

	def running_longer_than(self, seconds: float) -> bool:
		"""Whether a read has been running for at least ``seconds`` (a slow one: it holds the caller)."""
		now = time.monotonic()
		return any(now - t >= seconds for _i, _k, t in self._running.values())

	def can_start(self, key: str) -> bool:
		return len(self._running) < self.max_parallel and self.in_flight(key) < self.per_key

	def start(self, item: str, key: str, read: Callable[[], Any]) -> bool:
		"""Start ``read`` for ``item`` unless it is already running or ``key`` has no room."""
		if self.busy(item) or not self.can_start(key):
			return False
		self._running[self._pool.submit(read)] = (item, key, time.monotonic())
		return True

	def finished(self, timeout: float = 0.0) -> list[Finished]:
		"""The reads that are done, waiting at most ``timeout`` for the first one."""
		if not self._running:
			if timeout > 0:
				time.sleep(timeout)
			return []
		done, _pending = wait(list(self._running), timeout=max(0.0, timeout), return_when=FIRST_COMPLETED)
		out = []
		for future in done:
			item, key, started = self._running.pop(future)
			error = future.exception()
			out.append(
				Finished(
					item,
					key,
					None if error else future.result(),
					error,
					round(time.monotonic() - started, 3),
				)
			)
		return out

	def abandon(self) -> list[str]:
		"""Stop waiting: reads still running finish on their own (their answers are dropped). Returns their
		items, so the caller can schedule them again."""
		left = [i for i, _k, _t in self._running.values()]
		self._running.clear()
		self._pool.shutdown(wait=False, cancel_futures=True)
		return left
