"""Fake WhatsApp gateways over real loopback HTTP, one per supported type, for tests, the CLI and benchmarks.

``make_simulator("evolution", api_key=..., scenario=...)`` builds one (not started: use ``start()`` or a
``with`` block). Every type shares the core (simulator.core): scenarios, the fake-clock session model, the request
log and ``count()``, faults, control routes and the webhook sender.
"""

from __future__ import annotations

from typing import Any

from .baileys import BaileysSimulator
from .core import BaseSimulator
from .evolution import EvolutionSimulator
from .model import (
	DEFAULT_PHONE,
	DEFAULT_SCENARIO,
	FAULTS,
	NOT_ON_WHATSAPP,
	SCENARIOS,
	SessionOptions,
	pairing_code,
	qr_payload,
)
from .waha import WahaSimulator

GATEWAY_TYPES = ("baileys", "evolution", "waha")
SIMULATORS: dict[str, type[BaseSimulator]] = {
	"baileys": BaileysSimulator,
	"evolution": EvolutionSimulator,
	"waha": WahaSimulator,
}


def make_simulator(gateway_type: str = "baileys", *, start: bool = False, **kwargs: Any) -> BaseSimulator:
	"""A simulator of `gateway_type` built with `kwargs` (the class's constructor, e.g. auto_ack, ack_delay_s),
	started if asked."""
	try:
		cls = SIMULATORS[gateway_type]
	except KeyError:
		raise ValueError(
			f"unknown gateway type {gateway_type!r}; expected one of {', '.join(GATEWAY_TYPES)}"
		) from None
	sim = cls(**kwargs)
	return sim.start() if start else sim


__all__ = [
	"DEFAULT_PHONE",
	"DEFAULT_SCENARIO",
	"FAULTS",
	"GATEWAY_TYPES",
	"NOT_ON_WHATSAPP",
	"SCENARIOS",
	"BaileysSimulator",
	"BaseSimulator",
	"EvolutionSimulator",
	"SessionOptions",
	"WahaSimulator",
	"make_simulator",
	"pairing_code",
	"qr_payload",
]
