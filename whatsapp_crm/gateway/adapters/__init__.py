"""The gateway types and their factory: the only place that maps a type name to an adapter.

``detect()`` identifies a gateway from the routes that describe it, without creating anything: Evolution's
``GET /`` welcome, WAHA's ``GET /api/server/version`` (or ``/ping``), the Baileys contract's ``/api/health``.
Its Detection also says which versions of that type the app was checked against, and whether this is one.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..client import GatewayClient, Timeouts, WebhookTarget, normalise_base_url, short
from ..errors import BadResponse, GatewayError, GatewayTimeout, NotConfigured, Unreachable
from ..transport import Transport
from ..webhook import WebhookEvent, load_object, parse_data
from .baileys import BaileysClient
from .evolution import EvolutionClient
from .waha import WahaClient

ADAPTERS: dict[str, type[GatewayClient]] = {
	BaileysClient.gateway_type: BaileysClient,
	EvolutionClient.gateway_type: EvolutionClient,
	WahaClient.gateway_type: WahaClient,
}
GATEWAY_TYPES = tuple(ADAPTERS)
AUTO = "auto"
DEFAULT_TYPE = BaileysClient.gateway_type


@dataclass(frozen=True)
class Detection:
	gateway_type: str
	label: str
	version: str | None

	@property
	def description(self) -> str:
		return f"{self.label} {self.version}" if self.version else self.label

	@property
	def checked(self) -> tuple[tuple[str, ...], tuple[str, ...]]:
		"""(simulated, real) versions of this type the app was checked against."""
		cls = ADAPTERS.get(self.gateway_type)
		return (cls.simulated_versions, cls.real_versions) if cls else ((), ())

	@property
	def version_checked(self) -> bool | None:
		"""Whether this version is one of them; None when the version or the list is unknown."""
		simulated, real = self.checked
		if not self.version or not (simulated or real):
			return None
		return self.version in simulated or self.version in real

	@property
	def checked_text(self) -> str:
		"""The versions as the CLI prints them ("" when none are listed)."""
		simulated, real = self.checked
		parts = [f"{', '.join(v)} {how}" for v, how in ((simulated, "simulated"), (real, "real")) if v]
		return f"checked against {'; '.join(parts)}" if parts else ""


def adapter_class(gateway_type: str) -> type[GatewayClient]:
	try:
		return ADAPTERS[gateway_type]
	except KeyError:
		raise NotConfigured(f"unknown gateway type {str(gateway_type)[:40]!r}", reason="bad_type") from None


def make_client(
	gateway_type: str,
	base_url: str,
	api_key: str,
	timeouts: Timeouts | None = None,
	*,
	webhook: WebhookTarget | None = None,
) -> GatewayClient:
	"""A client for a known type (``auto`` must be resolved with ``detect()`` first)."""
	return adapter_class(gateway_type)(base_url, api_key, timeouts, webhook=webhook)


def detect(
	base_url: str, api_key: str, timeouts: Timeouts | None = None, *, timeout: float | None = None
) -> Detection:
	"""Which gateway answers at ``base_url``. Raises Unreachable/GatewayTimeout when nothing answers, and
	BadResponse when something answers that is none of the three."""
	base_url = normalise_base_url(base_url)
	key = api_key.strip() if isinstance(api_key, str) else ""
	probes = (
		(None, "/", _evolution),
		(WahaClient.auth_header, "/api/server/version", _waha),
		(None, "/ping", _waha_ping),
		(BaileysClient.auth_header, "/api/health", _baileys),
	)
	last_error: GatewayError | None = None
	answered = False
	for header, path, reading in probes:
		transport = Transport(base_url, header or "X-None", key if header else "", timeouts)
		try:
			reply = transport.request("GET", path, timeout=timeout)
		except (Unreachable, GatewayTimeout) as e:
			if not answered:
				raise  # nothing listens there, or nothing answers in time: asking the other routes costs the same
			last_error = e
			continue
		except GatewayError as e:
			last_error, answered = e, True
			continue
		finally:
			transport.close()
		answered = True
		found = reading(reply.obj or {}, reply.status)
		if found:
			return found
	if not answered and last_error is not None:
		raise last_error
	raise BadResponse("the server at this URL is not a Baileys REST, Evolution API or WAHA gateway")


def _evolution(info: dict, status: int) -> Detection | None:
	if status == 200 and "evolution" in str(info.get("message", "")).lower():
		return Detection("evolution", EvolutionClient.label, short(info.get("version")))
	return None


def _waha(info: dict, status: int) -> Detection | None:
	if status == 200 and ("engine" in info or "tier" in info) and "version" in info:
		return Detection("waha", WahaClient.label, short(info.get("version")))
	if status == 401 and info.get("statusCode") == 401:  # newer WAHA wants the key even here
		return Detection("waha", WahaClient.label, None)
	return None


def _waha_ping(info: dict, status: int) -> Detection | None:
	if status == 200 and info.get("message") == "pong":
		return Detection("waha", WahaClient.label, None)
	return None


def _baileys(info: dict, status: int) -> Detection | None:
	if status in (200, 401, 403) and ("success" in info or "name" in info or "status" in info):
		name = short(info.get("name"))
		return Detection("baileys", BaileysClient.label, short(info.get("version")) if name else None)
	return None


def parse_webhook(body: bytes) -> WebhookEvent:
	"""A verified webhook body from any gateway type, read by the adapter whose shape it has (Evolution's
	``instance``, WAHA's ``session``), else by the Baileys contract, which refuses anything off-contract."""
	data = load_object(body)
	for cls in ADAPTERS.values():
		reader = getattr(cls, "webhook_event", None)
		event = reader(data) if reader else None
		if event is not None:
			return event
	return parse_data(data)
