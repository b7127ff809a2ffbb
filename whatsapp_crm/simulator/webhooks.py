"""The simulators' webhook sender: one thread that watches the sessions and POSTs their events, each
session's in order, several sessions at once.

A type decides which events a session's changes make (``_webhook_poll_session``, plus events its routes
queue directly) and how one delivery looks on the wire (``_webhook_request``: URL, body, headers). Targets are
per session (given at create, Evolution and WAHA) or simulator-wide (set_webhook); every attempt is logged.

Fault "receiver down" (``set_receiver_down``, or ``POST /_sim/receiver {"down": true}``): every delivery of
an event queued while it is down, or due while it is down, is dropped, never sent, and logged as dropped, as a
gateway logs a receiver it could not reach and gives up on. The messages themselves stay in the simulator's
store, so the type's history route still returns them.
"""

from __future__ import annotations

import threading
import urllib.error
import urllib.request
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

if TYPE_CHECKING:
	from .core import Session, SessionOptions

WEBHOOK_POLL_S = 0.05
WEBHOOK_TIMEOUT_S = 3.0
DROPPED = "dropped: the receiver is down"  # a dropped delivery's error in webhook_log
PARALLEL_SESSIONS = 8
MAX_ANSWER = 64 * 1024


@dataclass(frozen=True)
class Hook:
	"""One webhook target. mode: how `secret` travels (the type's set_webhook modes; "" = given verbatim)."""

	url: str
	secret: str = ""
	mode: str = ""
	headers: tuple[tuple[str, str], ...] = ()  # sent as they are (Evolution's webhook.headers)
	events: tuple[str, ...] = ()  # only these events (the type's spelling); empty = every event
	by_events: bool = False  # Evolution's webhookByEvents: the event name is appended to the URL

	def secrets(self) -> list[str]:
		return [s for s in (self.secret, *(value for _, value in self.headers)) if s]


def check_url(url: object) -> str:
	parts = urlsplit(url) if isinstance(url, str) else None
	if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
		raise ValueError("webhook URL must start with http:// or https:// and name a host")
	assert isinstance(url, str)
	return url


class _NoRedirect(urllib.request.HTTPRedirectHandler):
	# A redirected POST would turn into a GET elsewhere: report the 3xx instead.
	def redirect_request(self, *args: Any, **kwargs: Any) -> None:
		return None


class WebhookSender:
	"""Mixed into BaseSimulator, whose lock, sessions and clock it uses."""

	webhook_modes: tuple[str, ...] = ("hmac", "secret")
	default_webhook_mode = "hmac"
	_lock: threading.RLock
	_sessions: dict[str, Session]
	clock: Callable[[], float]

	def _live(self, session_id: str, now: float) -> Session | None:
		raise NotImplementedError

	def options_for(self, session_id: str) -> SessionOptions:
		raise NotImplementedError

	def _init_webhooks(self) -> None:
		# the simulator-wide target, or None; events wait in one queue so each session's stay in order
		self._webhook: Hook | None = None
		self._wh_queue: deque[dict[str, Any]] = deque()
		self._wh_log: list[dict[str, Any]] = []
		self._wh_wake = threading.Event()
		self._wh_stop: threading.Event | None = None
		self._wh_thread: threading.Thread | None = None
		self._wh_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}), _NoRedirect)
		self._receiver_down = False
		self._wh_dropped = 0

	def _start_webhooks(self) -> None:
		self._wh_stop = threading.Event()
		self._wh_thread = threading.Thread(
			target=self._webhook_loop, args=(self._wh_stop,), name="gateway-simulator-webhooks", daemon=True
		)
		self._wh_thread.start()

	def _stop_webhooks(self) -> threading.Thread | None:
		"""Under self._lock: signal the sender; the caller joins the thread it gets, outside the lock."""
		wh_stop, wh_thread = self._wh_stop, self._wh_thread
		self._wh_stop = self._wh_thread = None
		if wh_stop is not None:
			wh_stop.set()
			self._wh_wake.set()
		return wh_thread

	def set_webhook(self, url: str | None, secret: str = "", mode: str | None = None) -> None:
		"""Where to POST every session's events (None: nowhere), and how the secret travels (`mode`).

		An empty secret sends events without credentials: useful to check that a receiver refuses them.
		"""
		mode = self.default_webhook_mode if mode is None else mode
		if mode not in self.webhook_modes:
			raise ValueError(
				f"unknown webhook mode {mode!r}; expected one of {', '.join(self.webhook_modes)}"
			)
		if not isinstance(secret, str):
			raise ValueError("webhook secret must be a string")
		if url is not None:
			check_url(url)
		with self._lock:
			self._webhook = Hook(url, secret, mode) if url is not None else None
			if url is None:
				self._wh_queue = deque(e for e in self._wh_queue if e["hooks"])
		self._wh_wake.set()

	def set_receiver_down(self, down: bool) -> None:
		"""Fault: the app's receiver is unreachable. While down, deliveries are dropped (and logged as such);
		events queued while down stay dropped after it comes back, as a gateway that gave up on them."""
		if not isinstance(down, bool):
			raise ValueError("down must be True or False")
		with self._lock:
			self._receiver_down = down
		self._wh_wake.set()

	@property
	def receiver_down(self) -> bool:
		with self._lock:
			return self._receiver_down

	@property
	def webhook_log(self) -> list[dict[str, Any]]:
		"""One entry per delivery attempt: event, session_id, status (HTTP or None), error (None when 2xx).
		A delivery dropped by the receiver-down fault has status None, error DROPPED and "dropped": True."""
		with self._lock:
			return [dict(entry) for entry in self._wh_log]

	@property
	def webhook_dropped(self) -> int:
		"""Deliveries dropped by the receiver-down fault so far."""
		with self._lock:
			return self._wh_dropped

	@property
	def webhook_failures(self) -> int:
		with self._lock:
			return sum(1 for entry in self._wh_log if entry["error"] is not None)

	# -- the type's part --

	def _webhook_poll_session(self, session: Session, opts: SessionOptions, now: float) -> None:
		"""Under self._lock: queue the events this session's time-driven changes make."""
		raise NotImplementedError

	def _webhook_request(self, hook: Hook, entry: dict[str, Any]) -> tuple[str, bytes, dict[str, str]] | None:
		"""(url, body, headers) for one delivery, or None when this target does not want the event."""
		raise NotImplementedError

	# -- sending --

	def _has_target(self, session: Session) -> bool:
		return bool(session.hooks) or self._webhook is not None

	def _queue(self, session: Session, event: str, data: dict[str, Any]) -> None:
		"""Under self._lock: one queue for every event keeps each session's events in order."""
		if not self._has_target(session):
			return
		hooks = list(session.hooks) or None  # None: the simulator-wide target at delivery time
		self._wh_queue.append(
			{
				"event": event,
				"session_id": session.session_id,
				"data": data,
				"hooks": hooks,
				"down": self._receiver_down,
			}
		)
		self._wh_wake.set()

	def _poll_webhook_events(self) -> None:
		with self._lock:
			if self._webhook is None and not any(s.hooks for s in self._sessions.values()):
				return
			now = self.clock()
			for session_id in list(self._sessions):
				known = self._sessions.get(session_id)
				if known is None or not self._has_target(known):
					continue
				session = self._live(session_id, now)
				if session is not None:
					self._webhook_poll_session(session, self.options_for(session_id), now)

	def _webhook_loop(self, stop: threading.Event) -> None:
		while not stop.is_set():
			self._wh_wake.wait(WEBHOOK_POLL_S)
			self._wh_wake.clear()
			if stop.is_set():
				return
			self._poll_webhook_events()
			while not stop.is_set():
				with self._lock:
					if not self._wh_queue:
						break
					# Sessions' events go out side by side, as a real gateway's do; each session's in order.
					batches: dict[str, list[tuple[Hook, dict[str, Any]]]] = {}
					while self._wh_queue:
						entry = self._wh_queue.popleft()
						hooks = entry["hooks"] or ([self._webhook] if self._webhook is not None else [])
						batches.setdefault(entry["session_id"], []).extend((h, entry) for h in hooks)
				if len(batches) == 1:
					self._deliver_all(next(iter(batches.values())))
				else:
					with ThreadPoolExecutor(min(PARALLEL_SESSIONS, len(batches))) as pool:
						list(pool.map(self._deliver_all, batches.values()))

	def _deliver_all(self, batch: list[tuple[Hook, dict[str, Any]]]) -> None:
		for hook, entry in batch:
			self._deliver(hook, entry)

	def _deliver(self, hook: Hook, entry: dict[str, Any]) -> None:
		"""POST one event; every outcome is logged, nothing is raised (a real gateway shrugs too)."""
		built = self._webhook_request(hook, entry)
		if built is None:
			return
		with self._lock:
			if entry.get("down") or self._receiver_down:
				self._wh_dropped += 1
				self._wh_log.append(
					{
						"event": entry["event"],
						"session_id": entry["session_id"],
						"status": None,
						"error": DROPPED,
						"dropped": True,
					}
				)
				return
		url, body, headers = built
		request = urllib.request.Request(url, data=body, headers=headers, method="POST")
		status: int | None = None
		error: str | None = None
		try:
			with self._wh_opener.open(request, timeout=WEBHOOK_TIMEOUT_S) as resp:
				status = resp.status
				resp.read(MAX_ANSWER)
		except urllib.error.HTTPError as exc:
			status, error = exc.code, f"HTTP {exc.code}"
			exc.close()
		except urllib.error.URLError as exc:
			error = f"URLError: {exc.reason}"[:200]
		except Exception as exc:  # the sender thread must survive any receiver
			error = f"{type(exc).__name__}: {exc}"[:200]
		if error is not None:
			for secret in hook.secrets():
				error = error.replace(secret, "***")
		with self._lock:
			self._wh_log.append(
				{"event": entry["event"], "session_id": entry["session_id"], "status": status, "error": error}
			)
