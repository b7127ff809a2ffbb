"""The simulators as a dev server:
``python -m whatsapp_crm.simulator --port 3000 --scenario qr_error [--gateway-type evolution]``."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from typing import Any

from whatsapp_crm.simulator import GATEWAY_TYPES, make_simulator
from whatsapp_crm.simulator.model import DEFAULT_SCENARIO, SCENARIOS

DEFAULT_KEY = "sim-secret-key"


def port_number(text: str) -> int:
	try:
		value = int(text)
	except ValueError:
		raise argparse.ArgumentTypeError(f"not a port number: {text!r}") from None
	if not 0 <= value <= 65535:
		raise argparse.ArgumentTypeError(f"must be from 0 (any free port) to 65535, not {text!r}")
	return value


def main(argv: list[str] | None = None, prog: str | None = None) -> int:
	parser = argparse.ArgumentParser(
		prog=prog, description="Fake WhatsApp gateway for development and tests."
	)
	parser.add_argument("--host", default="127.0.0.1")
	parser.add_argument("--port", type=port_number, default=3000, help="0-65535 (0: any free port)")
	parser.add_argument("--api-key", default=None, help="default: $WHATSAPP_CRM_API_KEY or sim-secret-key")
	parser.add_argument("--scenario", default=DEFAULT_SCENARIO, choices=sorted(SCENARIOS))
	parser.add_argument("--gateway-type", default="baileys", choices=GATEWAY_TYPES)
	parser.add_argument(
		"--waha-core-2024",
		action="store_true",
		help="WAHA only: mimic Core 2024.10.8 (no key check, 'default' only)",
	)
	args = parser.parse_args(argv)
	api_key = args.api_key or os.environ.get("WHATSAPP_CRM_API_KEY") or DEFAULT_KEY
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
			# A key the user chose is never printed (this line ends up in terminals, CI logs and screenshots);
			# the default one is public, and the first doctor fails without it.
			if args.api_key:
				shown, flag = "****", " --api-key <the key given to --api-key>"
			elif os.environ.get("WHATSAPP_CRM_API_KEY"):
				shown, flag = "****", ""  # doctor reads the same variable
			else:
				shown, flag = DEFAULT_KEY, f" --api-key {DEFAULT_KEY}"
			print(
				f"Gateway simulator on {sim.url} ({kind}scenario: {args.scenario}, key: {shown})", flush=True
			)
			print(
				f"Check it with: whatsapp-crm doctor --url {sim.url} --gateway-type {args.gateway_type}{flag}"
			)
			sys.stdout.flush()
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
