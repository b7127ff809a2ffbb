"""Transport: the only place that sends HTTP to a gateway, whatever its type.

One ``requests.Session`` (keep-alive) with no adapter retries (the retry policy lives in ``acquire.py``),
explicit (connect, read) timeouts, bodies read under a size cap, and the API key sent only in the gateway's
auth header: never in a URL, a repr, an exception or a log line (and redacted when a server echoes it).

A per-read timeout does not bound a request: a server that sends its headers at once and then one byte every
2 s never trips it. So every request also runs under a watchdog that shuts the socket down when the request's
budget is spent, whatever phase it is in; the caller then gets a GatewayTimeout.
"""

from __future__ import annotations

import json
import logging
import socket
import threading
import time
from dataclasses import dataclass
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from . import errors
from .errors import BadResponse, GatewayTimeout, NotConfigured, Unreachable

log = logging.getLogger("whatsapp_crm.gateway")

MAX_BODY_BYTES = 1024 * 1024
USER_AGENT = "whatsapp_crm-gateway-client"
# Slack for the watchdog's own wake-up and the socket's teardown; the promise is budget + 1 s.
WATCHDOG_SLACK_S = 0.05

_current = threading.local()


@dataclass(frozen=True)
class Timeouts:
	connect: float = 3.0
	read: float = 10.0

	def clipped(self, read: float | None) -> tuple[float, float]:
		"""(connect, read) for one request; a caller's budget can only shorten them."""
		if read is None:
			return (self.connect, self.read)
		read = max(0.05, min(self.read, read))
		return (min(self.connect, read), read)


@dataclass
class Reply:
	method: str
	path: str
	status: int
	raw: bytes
	content_type: str
	data: Any  # the parsed JSON value (any type), or None when the body is not JSON
	excerpt: str  # the first KB of the body as text, key redacted
	disposition: str | None = None  # Content-Disposition, for a file's name

	@property
	def obj(self) -> dict | None:
		return self.data if isinstance(self.data, dict) else None

	def context(self) -> dict:
		"""Keyword arguments for a GatewayError about this reply."""
		return {
			"method": self.method,
			"path": self.path,
			"http_status": self.status,
			"body_excerpt": self.excerpt,
		}


class _Watchdog:
	"""Shuts down the socket of the request it guards once the budget is spent."""

	def __init__(self, budget_s: float) -> None:
		self._lock = threading.Lock()
		self._conns: list[HTTPConnection] = []
		self.fired = False
		self._done = False
		self._timer = threading.Timer(budget_s + WATCHDOG_SLACK_S, self._fire)
		self._timer.daemon = True
		self._timer.start()

	def attach(self, conn: HTTPConnection) -> None:
		with self._lock:
			self._conns.append(conn)
			if self.fired:
				_shutdown(conn)

	def _fire(self) -> None:
		with self._lock:
			if self._done:
				return
			self.fired = True
			for conn in self._conns:
				_shutdown(conn)

	def cancel(self) -> None:
		with self._lock:
			self._done = True
		self._timer.cancel()


def _shutdown(conn: HTTPConnection) -> None:
	sock = getattr(conn, "sock", None)
	if sock is not None:
		try:
			sock.shutdown(socket.SHUT_RDWR)
		except OSError:
			pass


def _attach_current(conn: HTTPConnection) -> None:
	watchdog = getattr(_current, "watchdog", None)
	if watchdog is not None:
		watchdog.attach(conn)


class _GuardedHTTPConnection(HTTPConnection):
	def connect(self) -> None:
		super().connect()
		_attach_current(self)  # a connect that ate the budget is cut before the request goes out

	def request(self, *args: Any, **kwargs: Any) -> None:
		_attach_current(self)  # a reused keep-alive connection is attached here
		super().request(*args, **kwargs)


class _GuardedHTTPSConnection(HTTPSConnection):
	def connect(self) -> None:
		super().connect()
		_attach_current(self)

	def request(self, *args: Any, **kwargs: Any) -> None:
		_attach_current(self)
		super().request(*args, **kwargs)


class _GuardedHTTPPool(HTTPConnectionPool):
	ConnectionCls = _GuardedHTTPConnection


class _GuardedHTTPSPool(HTTPSConnectionPool):
	ConnectionCls = _GuardedHTTPSConnection


_POOLS = {"http": _GuardedHTTPPool, "https": _GuardedHTTPSPool}


class _GuardedAdapter(HTTPAdapter):
	"""No retries, and connections the watchdog can cut (proxied ones too)."""

	def __init__(self) -> None:
		super().__init__(max_retries=0, pool_maxsize=4)

	def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
		super().init_poolmanager(*args, **kwargs)
		self.poolmanager.pool_classes_by_scheme = _POOLS

	def proxy_manager_for(self, *args: Any, **kwargs: Any):
		manager = super().proxy_manager_for(*args, **kwargs)
		manager.pool_classes_by_scheme = _POOLS
		return manager


class Transport:
	def __init__(
		self,
		base_url: str,
		auth_header: str,
		api_key: str,
		timeouts: Timeouts | None = None,
		*,
		max_body_bytes: int = MAX_BODY_BYTES,
	) -> None:
		self.base_url = base_url
		self._api_key = api_key
		self.timeouts = timeouts or Timeouts()
		self.max_body_bytes = max_body_bytes
		self._http = requests.Session()
		adapter = _GuardedAdapter()
		self._http.mount("http://", adapter)
		self._http.mount("https://", adapter)
		self._http.headers.update({"Accept": "application/json", "User-Agent": USER_AGENT})
		if api_key:
			self._http.headers[auth_header] = api_key

	def __repr__(self) -> str:
		return f"Transport(base_url={self.base_url!r}, api_key='***', timeouts={self.timeouts!r})"

	def close(self) -> None:
		self._http.close()

	def redact(self, text: str) -> str:
		return text.replace(self._api_key, "***") if self._api_key and self._api_key in text else text

	def request(
		self,
		method: str,
		path: str,
		*,
		json_body: Any = None,
		params: dict[str, str] | None = None,
		headers: dict[str, str] | None = None,
		timeout: float | None = None,
		max_bytes: int | None = None,
	) -> Reply:
		"""Send one request within its budget (``timeout``, clipped to the client's read timeout) and read the
		whole body under the cap. Raises only GatewayTimeout, Unreachable or BadResponse (over the cap)."""
		ctx = {"method": method, "path": path}
		connect_t, read_t = self.timeouts.clipped(timeout)
		started = time.monotonic()
		watchdog = _Watchdog(read_t)
		_current.watchdog = watchdog
		try:
			try:
				resp = self._http.request(
					method,
					self.base_url + path,
					json=json_body,
					params=params,
					headers=headers,
					timeout=(connect_t, read_t),
					stream=True,
					allow_redirects=False,
				)
			except requests.exceptions.ConnectTimeout:
				raise GatewayTimeout(f"no connection within {connect_t:g} s", **ctx)
			except requests.exceptions.Timeout:
				raise GatewayTimeout(f"no answer within {read_t:g} s", **ctx)
			except requests.exceptions.InvalidURL:
				raise NotConfigured("gateway URL is not a valid URL", reason="bad_url", **ctx)
			except requests.exceptions.RequestException as e:
				if watchdog.fired:
					raise GatewayTimeout(f"no answer within {read_t:g} s", **ctx)
				reason, detail = _connection_reason(e)
				raise Unreachable(detail, reason=reason, **ctx)
			try:
				raw = self._read_capped(resp, watchdog, ctx, read_t, max_bytes or self.max_body_bytes)
			finally:
				resp.close()
		finally:
			watchdog.cancel()
			_current.watchdog = None
		status = resp.status_code
		content_type = resp.headers.get("Content-Type", "").split(";", 1)[0].strip().lower()
		log.debug("%s %s -> %s in %d ms", method, path, status, (time.monotonic() - started) * 1000)
		text = (
			""
			if content_type.startswith("image/")
			else raw[: errors.EXCERPT_LIMIT].decode("utf-8", "replace")
		)
		return Reply(
			method=method,
			path=path,
			status=status,
			raw=raw,
			content_type=content_type,
			data=_json(raw) if _may_be_json(content_type, raw) else None,
			excerpt=self.redact(text),
			disposition=resp.headers.get("Content-Disposition"),
		)

	def _read_capped(
		self, resp: requests.Response, watchdog: _Watchdog, ctx: dict, read_t: float, cap: int
	) -> bytes:
		ctx = {**ctx, "http_status": resp.status_code}
		length = resp.headers.get("Content-Length")
		if length and length.isdigit() and int(length) > cap:
			raise BadResponse(f"answer of {int(length)} bytes is over the {cap} byte cap", **ctx)
		chunks, size = [], 0
		try:
			for chunk in resp.iter_content(64 * 1024):
				size += len(chunk)
				if size > cap:
					raise BadResponse(f"answer is over the {cap} byte cap", **ctx)
				chunks.append(chunk)
		except requests.exceptions.RequestException as e:
			if watchdog.fired or isinstance(e.__context__, TimeoutError) or "timed out" in str(e).lower():
				raise GatewayTimeout(f"the answer did not arrive within {read_t:g} s", **ctx)
			raise Unreachable("the connection broke while reading the answer", **ctx)
		if watchdog.fired:
			# The socket was cut mid-body: what arrived is a truncated answer, not the answer.
			raise GatewayTimeout(f"the answer did not arrive within {read_t:g} s", **ctx)
		return b"".join(chunks)


def _may_be_json(content_type: str, raw: bytes) -> bool:
	# A file (an image, a downloaded attachment) is never parsed, however large.
	return not content_type.startswith(("image/", "audio/", "video/")) and len(raw) <= MAX_BODY_BYTES


def _json(raw: bytes) -> Any:
	if not raw:
		return None
	try:
		return json.loads(raw.decode("utf-8"))
	except (UnicodeDecodeError, ValueError, RecursionError):
		return None


def _connection_reason(e: Exception) -> tuple[str, str]:
	"""(Unreachable.reason, detail) of a failed connection, read from the library's words."""
	text = str(e).lower()
	if "refused" in text:
		return errors.REFUSED, "connection refused"
	if "name or service not known" in text or "nodename nor servname" in text or "resolution" in text:
		return errors.NO_HOST, "host name not found"
	# https:// to a port that speaks plain HTTP: OpenSSL reads "HTTP/1.1 400" as a broken TLS record.
	if "wrong version number" in text or "record layer failure" in text or "http request" in text:
		return errors.PLAIN_HTTP, "TLS handshake failed: this port answers plain HTTP (use http://)"
	if "certificate" in text or "ssl" in text or "tls" in text:
		return errors.TLS_FAILED, "TLS handshake failed (certificate or protocol)"
	return errors.BROKEN, "connection failed"
