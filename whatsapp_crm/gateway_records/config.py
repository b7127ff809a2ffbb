"""A session's gateway server (a WhatsApp Gateway record) turned into clients, webhooks and guards.

Everything that is per server lives here, keyed by the gateway's name: the client factory (URL, key, type),
auto-detection (stored on the record), the webhook target (the gateway's name in the URL, its own secret),
the circuit breaker and the health shown on the record and the workspace. The site-wide policy (timeouts,
waits, deadline, intervals, Public Site URL) stays in WhatsApp CRM Settings.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import partial
from urllib.parse import quote

import frappe
from frappe.query_builder.functions import Count
from frappe.utils import get_datetime, now_datetime

from whatsapp_crm.gateway import errors
from whatsapp_crm.gateway.adapters import AUTO, Detection, detect, make_client
from whatsapp_crm.gateway.client import GatewayClient, WebhookTarget
from whatsapp_crm.gateway.errors import NotConfigured
from whatsapp_crm.gateway.policies import GATEWAY_HEALTH
from whatsapp_crm.gateway.resilience import CircuitBreaker
from whatsapp_crm.integration import STORE, get_settings, timeouts_from

GATEWAY = "WhatsApp Gateway"
SESSION = "WhatsApp Session"
PARKED = "WhatsApp Parked Event"  # webhook events waiting to be applied, one gateway each
# The Gateway Type select's options (what admins read) -> the gateway layer's type names.
GATEWAY_TYPES = {
	"Baileys REST": "baileys",
	"Evolution API": "evolution",
	"WAHA": "waha",
	"Auto-detect": AUTO,
}
WEBHOOK_METHOD = "/api/method/whatsapp_crm.api.webhook.receive"
HEALTHY, DOWN, UNKNOWN = "Healthy", "Down", "Unknown"
CHECK_EVERY_S = GATEWAY_HEALTH.check_every_s
_HEALTH_SEEN: dict[tuple[str, str], tuple[str, str, float]] = {}  # (site, gateway) -> last stored, when
# Failures that can mark a server's health Down: timeouts and refused connections once its breaker opens
# (several sessions failed), the others at once (a wrong key or an unactivated server is the server's).
DOWN_CODES = frozenset(
	{errors.TIMEOUT, errors.UNREACHABLE, errors.UNAUTHORIZED, errors.LICENSE_REQUIRED, errors.NOT_CONFIGURED}
)
DISTINCT_SESSIONS = GATEWAY_HEALTH.distinct_sessions
GATEWAY_WIDE_CODES = frozenset({errors.UNAUTHORIZED, errors.LICENSE_REQUIRED, errors.UNREACHABLE})


def gateway_doc(name: str):
	"""The gateway record (cached per request; edits clear it)."""
	if not name:
		raise NotConfigured("this session has no gateway", reason="no_gateway")
	try:
		return frappe.get_cached_doc(GATEWAY, name)
	except frappe.DoesNotExistError:
		raise NotConfigured(f"the gateway {name!r} does not exist", reason="no_gateway") from None


# (site, gateway) -> (its record's modified, webhook secret): the secret is read once per edit of the record,
# not once per webhook (a Password read is a query and a decryption; a burst asks for it 200 times). Keyed by
# site too: one process serves every site of a bench.
_secrets: dict[tuple[str, str], tuple[str, str]] = {}


def webhook_secret(name: str) -> str:
	"""The gateway's webhook secret ("" when none is set); NotConfigured when the gateway does not exist."""
	doc = gateway_doc(name)
	stamp, key = str(doc.modified), (frappe.local.site, name)
	known = _secrets.get(key)
	if known is None or known[0] != stamp:
		known = _secrets[key] = (stamp, doc.get_password("webhook_secret", raise_exception=False) or "")
	return known[1]


def gateway_name_of(session) -> str:
	"""The gateway of a session (a document, a row with ``gateway``, or a name)."""
	if isinstance(session, str):
		return frappe.db.get_value(SESSION, session, "gateway") or ""
	return session.get("gateway") or ""


def client_for(session, settings=None) -> GatewayClient:
	"""A client for the session's gateway; raises NotConfigured (a GatewayError) when it is unusable."""
	return client_factory(gateway_doc(gateway_name_of(session)), settings)()


def client_factory(gateway, settings=None) -> Callable[[], GatewayClient]:
	"""What builds clients for one gateway, resolved now (key, type, webhook: database reads), so that
	threads can build their own clients without touching Frappe.

	With Auto-detect, the gateway is identified once (a few GETs, no session touched) and the answer is
	stored on its record; changing the URL or the type forgets it."""
	settings = settings or get_settings()
	if not settings.enabled:
		raise NotConfigured("the integration is disabled in WhatsApp CRM Settings", reason="disabled")
	if not gateway.enabled:
		raise NotConfigured(f"the gateway {gateway.name} is disabled", reason="gateway_disabled")
	api_key = gateway.get_password("api_key", raise_exception=False) or ""
	gateway_type = GATEWAY_TYPES.get(gateway.gateway_type or AUTO, AUTO)
	timeouts = timeouts_from(settings)
	if gateway_type == AUTO:
		gateway_type = gateway.detected_gateway_type or remember_detection(
			gateway, detect(gateway.gateway_url or "", api_key, timeouts, timeout=5.0)
		)
	make = partial(
		make_client,
		gateway_type,
		gateway.gateway_url or "",
		api_key,
		timeouts,
		webhook=webhook_target(gateway, settings),
	)
	make().close()  # a bad URL or a missing key fails here, in the caller's thread
	return make


def remember_detection(gateway, found: Detection) -> str:
	values = {"detected_gateway_type": found.gateway_type, "detected_gateway": found.description}
	frappe.db.set_value(GATEWAY, gateway.name, values, update_modified=False)
	gateway.update(values)
	frappe.clear_document_cache(GATEWAY, gateway.name)
	return found.gateway_type


def webhook_target(gateway, settings) -> WebhookTarget | None:
	"""Where this gateway should push events: the site's public URL, with the gateway's name (so the
	receiver checks this gateway's secret) and its own secret."""
	secret = gateway.get_password("webhook_secret", raise_exception=False) or ""
	base = (settings.public_site_url or "").strip().rstrip("/")
	if not base or not secret:
		return None
	return WebhookTarget(url=f"{base}{WEBHOOK_METHOD}?gateway={quote(gateway.name, safe='')}", secret=secret)


def breaker_for(gateway_name: str) -> CircuitBreaker:
	"""One breaker per gateway server. It opens only when DISTINCT_SESSIONS sessions on it time out, its
	connection is refused, or a call about the server itself fails: one session whose calls hang backs off on its own schedule."""
	return CircuitBreaker(STORE, f"whatsapp_crm:breaker:{gateway_name or '-'}", distinct=DISTINCT_SESSIONS)


def session_breaker(gateway_name: str, session: str) -> CircuitBreaker:
	"""One session's own back-off: its calls hang or time out, the others' do not."""
	return CircuitBreaker(STORE, f"whatsapp_crm:breaker:{gateway_name or '-'}:{session}")


def open_breaker(gateway_name: str, session: str):
	"""The open breaker that holds this session back (its gateway's, or its own), or None."""
	for breaker in (breaker_for(gateway_name), session_breaker(gateway_name, session)):
		state = breaker.state()
		if state.open:
			return state
	return None


def session_counts() -> dict[str, int]:
	"""Sessions per gateway."""
	return {r.gateway: r.n for r in _count_sessions("gateway") if r.gateway}


def session_counts_by_status() -> list:
	"""Rows of (gateway, status, n): sessions per gateway and status (the workspace's cards)."""
	return _count_sessions("gateway", "status")


COUNT_AS = "n"  # the count's column in the rows


def _count_sessions(*group_by: str) -> list:
	"""COUNT(name) grouped by these columns, through the query builder: Frappe v16's get_all refuses a SQL
	function written as a string in ``fields`` ("count(name) as n"), and v15's refuses the dict form v16
	wants; a pypika query runs the same on both (no permission check, as get_all)."""
	table = frappe.qb.DocType(SESSION)
	columns = [table[c] for c in group_by]
	query = frappe.qb.from_(table).select(*columns, Count(table.name).as_(COUNT_AS)).groupby(*columns)
	return query.run(as_dict=True)


def pick_gateway() -> str | None:
	"""Where a new session goes: the default gateway if it has room, else the enabled one with the most
	room. None when there is no enabled gateway with room."""
	rows = frappe.get_all(
		GATEWAY,
		filters={"enabled": 1},
		fields=["name", "is_default", "max_sessions"],
		order_by="creation asc",
	)
	counts = session_counts()

	def room(row) -> float:
		return (row.max_sessions or 0) - counts.get(row.name, 0) if row.max_sessions else float("inf")

	open_rows = [r for r in rows if room(r) > 0]
	default = next((r for r in open_rows if r.is_default), None)
	if default:
		return default.name
	if not open_rows:
		return None
	return max(open_rows, key=lambda r: (room(r), -counts.get(r.name, 0))).name


def record_health(gateway_name: str, code: str | None, detail: str = "", *, checked: bool = False) -> None:
	"""Store what the last call about the server said (only on change, so polls write nothing).
	``checked``: an admin's Test connection, where any failure is the server's."""
	if not gateway_name:
		return
	if code is None:
		status, error = HEALTHY, ""
	elif code in DOWN_CODES or checked:
		status, error = DOWN, f"{code}: {detail}"[:500] if detail else code
	else:
		return  # one session's trouble says nothing about the server
	# Polls report the same health every second: once this process has stored it, it skips the read too.
	memo_key = (frappe.local.site, gateway_name)
	seen = _HEALTH_SEEN.get(memo_key)
	if not checked and seen and seen[:2] == (status, error) and time.monotonic() - seen[2] < CHECK_EVERY_S:
		return
	_HEALTH_SEEN[memo_key] = (status, error, time.monotonic())
	current = frappe.db.get_value(
		GATEWAY, gateway_name, ["health_status", "last_error", "last_check"], as_dict=True
	)
	if current is None:
		return
	now = now_datetime()
	values = {"last_check": now}
	if current.health_status != status or (current.last_error or "") != error:
		values.update({"health_status": status, "last_error": error})
	elif (
		not checked
		and current.last_check
		and (now - get_datetime(current.last_check)).total_seconds() < CHECK_EVERY_S
	):
		return  # no news, and checked a moment ago: the record is not written on every poll
	frappe.db.set_value(GATEWAY, gateway_name, values, update_modified=False)


def note_outcome(gateway_name: str, session: str | None, error) -> None:
	"""One gateway call's result, for the gateway's breaker and health. ``session`` None: a call about the
	server itself (its breaker opens at once)."""
	code = error.code if error is not None else None
	if session is not None:
		session_breaker(gateway_name, session).record(code)
	# A refused connection is the server's, whichever session asked; a timeout may be one session's.
	source = None if code == errors.UNREACHABLE else session
	state = breaker_for(gateway_name).record(code, source=source)
	if code is None or code in GATEWAY_WIDE_CODES or state.open:
		record_health(gateway_name, code, str(error or ""))
