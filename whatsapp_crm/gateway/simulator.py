"""Compatibility module and dev server for the gateway simulators (the code lives in ``gateway.sim``).

``GatewaySimulator`` is the Baileys REST simulator (the DESIGN.md §2 contract); Evolution API v2 and WAHA have
their own classes in ``gateway.sim`` (``make_simulator(gateway_type, ...)``). Everything the tests, the CLI
and the benchmarks used to import from here still is.

Run it as a dev server:
``python -m whatsapp_crm.gateway.simulator --port 3000 --scenario qr_error [--gateway-type evolution]``.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from typing import Any

# Absolute imports: this file also runs as a plain script (python path/to/simulator.py).
from whatsapp_crm.gateway.sim import GATEWAY_TYPES, make_simulator
from whatsapp_crm.gateway.sim.baileys import BaileysSimulator
from whatsapp_crm.gateway.sim.baileys import webhook_auth as _webhook_auth
from whatsapp_crm.gateway.sim.core import BaseSimulator
from whatsapp_crm.gateway.sim.model import (
	BODY_FAULTS,
	DEFAULT_PHONE,
	DEFAULT_SCENARIO,
	FAULTS,
	SCENARIOS,
	Session,
	SessionOptions,
	pairing_code,
	parse_json_object,
	qr_payload,
	resolve,
	valid_id,
)
from whatsapp_crm.gateway.sim.server import CHUNK, MAX_BODY
from whatsapp_crm.gateway.sim.webhooks import WEBHOOK_POLL_S, WEBHOOK_TIMEOUT_S

GatewaySimulator = BaileysSimulator
WEBHOOK_MODES = BaileysSimulator.webhook_modes
# the old private names, for code that reached in
_resolve, _valid_id, _parse_json_object, _Session = resolve, valid_id, parse_json_object, Session


def main(argv: list[str] | None = None) -> int:
	parser = argparse.ArgumentParser(description="Fake WhatsApp gateway for development and tests.")
	parser.add_argument("--host", default="127.0.0.1")
	parser.add_argument("--port", type=int, default=3000)
	parser.add_argument("--api-key", default=None, help="default: $WHATSAPP_CRM_API_KEY or sim-secret-key")
	parser.add_argument("--scenario", default=DEFAULT_SCENARIO, choices=sorted(SCENARIOS))
	parser.add_argument("--gateway-type", default="baileys", choices=GATEWAY_TYPES)
	parser.add_argument(
		"--waha-core-2024",
		action="store_true",
		help="WAHA only: mimic Core 2024.10.8 (no key check, 'default' only)",
	)
	args = parser.parse_args(argv)
	api_key = args.api_key or os.environ.get("WHATSAPP_CRM_API_KEY") or "sim-secret-key"
	extra: dict[str, Any] = {"core_2024": True} if args.gateway_type == "waha" and args.waha_core_2024 else {}

	done = threading.Event()

	def on_signal(signum: int, frame: object) -> None:
		done.set()

	# Handlers to put back, so that calling main() in-process leaves no trace.
	previous: dict[signal.Signals, Any] = {}
	for sig in (signal.SIGINT, signal.SIGTERM):
		try:
			previous[sig] = signal.signal(sig, on_signal)
		except ValueError:  # not the main thread: Ctrl-C still raises KeyboardInterrupt there
			pass
	try:
		try:
			sim = make_simulator(
				args.gateway_type,
				api_key=api_key,
				host=args.host,
				port=args.port,
				scenario=args.scenario,
				**extra,
			).start()
		except OSError as exc:
			print(f"Cannot listen on {args.host}:{args.port}: {exc.strerror or exc}", file=sys.stderr)
			return 1
		try:
			kind = "" if args.gateway_type == "baileys" else f"{args.gateway_type}, "
			# Never the key itself: this line ends up in terminals, CI logs and screenshots.
			print(f"Gateway simulator on {sim.url} ({kind}scenario: {args.scenario}, key: ****)", flush=True)
			while not done.wait(0.5):
				pass
		except KeyboardInterrupt:
			pass
		finally:
			sim.stop()
		return 0
	finally:
		for sig, handler in previous.items():
			signal.signal(sig, handler)


__all__ = [
	"BODY_FAULTS",
	"CHUNK",
	"DEFAULT_PHONE",
	"DEFAULT_SCENARIO",
	"FAULTS",
	"GATEWAY_TYPES",
	"MAX_BODY",
	"SCENARIOS",
	"WEBHOOK_MODES",
	"WEBHOOK_POLL_S",
	"WEBHOOK_TIMEOUT_S",
	"BaseSimulator",
	"GatewaySimulator",
	"SessionOptions",
	"_webhook_auth",
	"main",
	"make_simulator",
	"pairing_code",
	"qr_payload",
]

if __name__ == "__main__":
	raise SystemExit(main())
