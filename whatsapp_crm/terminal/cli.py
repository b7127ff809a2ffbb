"""``whatsapp-crm``: demo, simulate, connect, status and doctor, from a terminal.

Exit codes: 0 a QR or a link was obtained (doctor: every check passed); 2 bad usage or configuration (a
rejected key, a wrong URL or gateway type included); 3 gateway failure (nothing answers, it hangs, or it
answers nonsense); 4 gave up without a QR.

It speaks as a terminal does: the fix for a wrong setting is a flag (``--url``, ``--api-key``), or, with
``--gateway NAME`` inside a bench, that record's field; a command that exits retries nothing after it.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timezone

from whatsapp_crm.gateway import errors, texts
from whatsapp_crm.gateway.acquire import QrOutcome, QrPolicy, acquire_qr, build_payload, outcome_from_error
from whatsapp_crm.gateway.adapters import AUTO, DEFAULT_TYPE, GATEWAY_TYPES, detect, make_client
from whatsapp_crm.gateway.catchup import MARGIN_S, STORED, Reconciler, SyncState
from whatsapp_crm.gateway.client import GatewayClient, Timeouts, validate_session_id
from whatsapp_crm.gateway.doctor import FAIL, OK, diagnose
from whatsapp_crm.gateway.errors import GatewayError, HistoryUnavailable
from whatsapp_crm.simulator import devserver

from . import demo
from .outcome import (
	CONFIG_CODES,
	EXIT_GATEWAY,
	EXIT_NO_QR,
	EXIT_OK,
	EXIT_USAGE,
	exit_code,
	follow,
	gave_up_text,
	user_message,
)

KEY_ENV = "WHATSAPP_CRM_API_KEY"
TYPE_ENV = "WHATSAPP_CRM_GATEWAY_TYPE"
# Failures after which the session's state on the gateway is not known: the terminal says so, not "Connecting".
UNKNOWN_STATE_CODES = {errors.TIMEOUT, errors.UNREACHABLE, errors.BAD_RESPONSE} | CONFIG_CODES
UNKNOWN = "Unknown"


def _payload(outcome: QrOutcome, where: dict | None) -> dict:
	"""The app's payload, in the terminal's words and with the truth about a state nobody reported."""
	payload = build_payload(outcome, message=user_message(outcome, where))
	if outcome.error_code in UNKNOWN_STATE_CODES and outcome.gateway_status is None:
		payload["status"] = UNKNOWN
	return payload


def _where(args: argparse.Namespace) -> dict:
	"""What the terminal names as the fix: the flags, or the fields of the --gateway record."""
	if getattr(args, "gateway", None):
		record = f"WhatsApp Gateway {args.gateway!r}"
		return {"url": f"the URL of {record}", "key": f"the API Key of {record}"}
	return texts.FLAGS


def _policy(args: argparse.Namespace) -> QrPolicy:
	return QrPolicy(deadline=args.deadline)


def _client(args: argparse.Namespace, policy: QrPolicy) -> GatewayClient:
	key = args.api_key or os.environ.get(KEY_ENV, "")
	timeouts = Timeouts(connect=policy.connect_timeout, read=policy.status_timeout)
	gateway_type = args.gateway_type
	if gateway_type == AUTO:
		found = detect(args.url, key, timeouts, timeout=min(5.0, policy.status_timeout))
		if not args.json:
			checked = f" ({found.checked_text})" if found.checked_text else ""
			print(f"Detected gateway: {found.description}{checked}", file=sys.stderr)
		gateway_type = found.gateway_type
	return make_client(gateway_type, args.url, key, timeouts)


def _report_failure(e: GatewayError, args: argparse.Namespace, policy: QrPolicy | None = None) -> int:
	"""A failure before any work: the same shape from every command (a line on stderr, or its JSON)."""
	outcome = outcome_from_error(args.session, e, policy)
	if args.json and args.command == "sync":
		words = texts.for_terminal(texts.for_code(e.code), e, _where(args))
		print(json.dumps({"session": args.session, "error": e.as_dict(), "message": words}, indent=2))
	elif args.json:
		print(json.dumps(_payload(outcome, _where(args)), indent=2))
	else:
		print(f"error: {user_message(outcome, _where(args))} ({e})", file=sys.stderr)
	return exit_code(outcome)


def cmd_connect(args: argparse.Namespace) -> int:
	policy = _policy(args)
	started = time.monotonic()
	try:
		client = _client(args, policy)
		client.create_session(args.session, timeout=min(policy.status_timeout, policy.deadline))
	except GatewayError as e:
		return _report_failure(e, args, policy)
	# create and acquisition share one deadline, as in the app
	policy = replace(policy, deadline=max(1.0, policy.deadline - (time.monotonic() - started)))
	with client:
		if args.json:
			outcome = acquire_qr(client, args.session, policy)
			payload = _payload(outcome, _where(args))
			if exit_code(outcome) == EXIT_NO_QR:
				# The deadline passed with no QR: say why one may never come, not "waiting".
				payload["message"] = gave_up_text(args.deadline)
			print(json.dumps(payload, indent=2))
		else:
			print(texts.CREATING)
			outcome = follow(client, args.session, policy, give_up_after=args.wait, where=_where(args))
	return exit_code(outcome)


def cmd_status(args: argparse.Namespace) -> int:
	policy = QrPolicy(max_attempts=1, deadline=args.deadline)
	try:
		client = _client(args, policy)
	except GatewayError as e:
		return _report_failure(e, args, policy)
	with client:
		outcome = acquire_qr(client, args.session, policy, recreate_missing=False)
	payload = _payload(outcome, _where(args))
	if args.json:
		print(json.dumps(payload, indent=2))
	else:
		d = payload["debug"]
		print(
			f"status: {payload['status']}  (gateway says: {d['gateway_status'] or '-'}, has QR: {d['has_qr']})"
		)
		print(payload["message"])
		if outcome.error:
			print(f"last error: {outcome.error}")
	return exit_code(outcome)


def cmd_simulate(args: argparse.Namespace) -> int:
	argv = ["--host", args.host, "--port", args.port, "--scenario", args.scenario]
	argv += ["--gateway-type", args.gateway_type]
	if args.waha_core_2024:
		argv.append("--waha-core-2024")
	if args.api_key:
		argv += ["--api-key", args.api_key]
	return devserver.main(argv, prog="whatsapp-crm simulate")


def cmd_demo(args: argparse.Namespace) -> int:
	return demo.run(args.gateway_type, args.scan_after)


def cmd_doctor(args: argparse.Namespace) -> int:
	key = args.api_key or os.environ.get(KEY_ENV, "")
	report = diagnose(
		args.url,
		key,
		args.gateway_type,
		Timeouts(connect=3.0, read=10.0),
		probe=args.probe,
		probe_s=args.probe_s,
	)
	said = [texts.for_terminal(c.template, where=_where(args)).format(*c.args) for c in report.checks]
	if args.json:
		data = report.as_dict()
		for check, text in zip(data["checks"], said, strict=True):
			check["text"] = text  # the terminal's words, as printed without --json
		print(json.dumps(data, indent=2))
	else:
		print(f"Checking {report.url or args.url}")
		marks = {OK: "ok  ", FAIL: "FAIL", "skip": "--  "}
		for check, text in zip(report.checks, said, strict=True):
			print(f"  [{marks[check.result]}] {check.name:<9} {text}")
		if not args.probe and report.ok:
			print("Run again with --probe to check that the gateway can reach WhatsApp (a test session).")
	return doctor_exit_code(report)


def doctor_exit_code(report) -> int:
	"""2 when the fix is in what was given (URL, key, type), 3 when the gateway fails, 4 when no QR came."""
	if report.ok:
		return EXIT_OK
	failed = next(c for c in report.checks if c.result == "fail")
	if failed.code in CONFIG_CODES or failed.code == errors.LICENSE_REQUIRED:
		return EXIT_USAGE
	if failed.name in ("url", "tls") or (failed.name == "type" and failed.code != errors.UNREACHABLE):
		return EXIT_USAGE  # a wrong scheme, URL or gateway type: all in what the admin typed
	return EXIT_NO_QR if failed.code == errors.QR_NOT_READY else EXIT_GATEWAY


# Seconds that must be above 0, and those that may be 0; argparse's float() takes nan, inf and -1.
POSITIVE_SECONDS, SECONDS = ("deadline", "wait", "probe_s"), ("scan_after",)
MAX_PAGES = 1000


def number_problem(args: argparse.Namespace) -> str | None:
	"""What is wrong with a number given on the command line, or None."""
	for name in POSITIVE_SECONDS + SECONDS:
		value = getattr(args, name, None)
		if value is None:
			continue
		positive = name in POSITIVE_SECONDS
		if not math.isfinite(value) or value < 0 or (positive and value == 0):
			kind = "positive" if positive else "zero or positive"
			return f"--{name.replace('_', '-')} must be a {kind} number of seconds, not {value:g}"
	pages = getattr(args, "max_pages", None)
	if pages is not None and not 1 <= pages <= MAX_PAGES:
		return f"--max-pages must be from 1 to {MAX_PAGES}, not {pages}"
	return None


def _when(value: str) -> int:
	"""Unix seconds from ``1795000000``, ``2026-12-01`` or ``2026-12-01T10:00`` (UTC unless it names a zone)."""
	text = value.strip()
	if text.isdigit():
		return int(text)
	try:
		moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
	except ValueError:
		raise argparse.ArgumentTypeError(f"not a date, time or unix seconds: {value!r}") from None
	return int((moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)).timestamp())


def cmd_sync(args: argparse.Namespace) -> int:
	"""Read a session's messages back from the gateway's own store, as a catch-up does (nothing is stored:
	inside a bench, the Sync messages button or ``bench execute whatsapp_crm.chat.catchup.sync_session``)."""
	policy = QrPolicy(deadline=args.deadline)
	now = int(time.time())
	since = args.since if args.since is not None else now - 3600
	if since > now:
		print("error: --since must be in the past", file=sys.stderr)
		return EXIT_USAGE
	try:
		client = _client(args, policy)
	except GatewayError as e:
		return _report_failure(e, args, policy)
	found = []
	acks = []

	def keep(message) -> str:
		found.append(message)
		return STORED

	with client:
		result = Reconciler(client, args.session, max_pages=args.max_pages, budget_s=args.deadline).run(
			SyncState(), keep, acks.append, since=since
		)
	error = result.error
	words = None
	if error is not None:
		template = (
			texts.for_history(error.reason, error.gateway_type)
			if isinstance(error, HistoryUnavailable)
			else texts.for_code(error.code)
		)
		words = texts.for_terminal(template, error, _where(args))
	if args.json:
		print(
			json.dumps(
				{
					"session": args.session,
					"since": since,
					"until": now + MARGIN_S,
					"pages": result.pages,
					"complete": result.complete,
					"messages": [
						{
							"id": m.id,
							"chat": m.chat,
							"from_me": m.from_me,
							"timestamp": m.timestamp,
							"text": m.text,
							"media": m.media.mimetype if m.media else None,
						}
						for m in found
					],
					"acks": [{"id": a.message_id, "status": a.status} for a in acks],
					"skipped": result.skipped,
					"error": error.as_dict() if error else None,
					"message": words,
				},
				indent=2,
			)
		)
	else:
		print(
			f"Reading {args.session} from {datetime.fromtimestamp(since, tz=timezone.utc):%Y-%m-%d %H:%M} UTC"
		)
		for m in sorted(found, key=lambda m: m.timestamp or 0):
			when = (
				f"{datetime.fromtimestamp(m.timestamp, tz=timezone.utc):%Y-%m-%d %H:%M:%S}"
				if m.timestamp
				else "-"
			)
			arrow = "->" if m.from_me else "<-"
			body = (m.text or (m.media.mimetype if m.media else "") or "").replace("\n", " ")[:60]
			print(f"  {when} {arrow} +{m.chat or '?'} {body!r}")
		print(
			f"{len(found)} messages, {len(acks)} receipts, {result.skipped} skipped, {result.pages} pages"
			+ ("" if result.complete or error is not None else " (stopped before the end)")
		)
		if error is not None:
			print(f"error: {words} ({error})", file=sys.stderr)
	if error is None:
		return EXIT_OK
	return EXIT_USAGE if error.code in CONFIG_CODES else EXIT_GATEWAY


def build_parser() -> argparse.ArgumentParser:
	parser = argparse.ArgumentParser(prog="whatsapp-crm", description=__doc__.split("\n")[0])
	sub = parser.add_subparsers(dest="command", required=True)

	env_type = os.environ.get(TYPE_ENV, "").strip().lower()
	types = (*GATEWAY_TYPES, AUTO)

	def gateway_type_arg(
		p: argparse.ArgumentParser, choices: tuple[str, ...] = types, default: str = DEFAULT_TYPE
	) -> None:
		p.add_argument(
			"--gateway-type",
			choices=choices,
			default=env_type if env_type in choices else default,
			help=f"the gateway's API (or set ${TYPE_ENV}; default {default})",
		)

	def where_arg(p: argparse.ArgumentParser) -> None:
		where = p.add_mutually_exclusive_group(required=True)
		where.add_argument("--url", help="gateway base URL, e.g. http://127.0.0.1:3000")
		where.add_argument(
			"--gateway",
			metavar="NAME",
			help="a WhatsApp Gateway record of a site (inside a bench: bench --site SITE whatsapp-crm ...)",
		)

	demo = sub.add_parser("demo", help="run the whole flow against the built-in gateway simulator")
	demo.add_argument("--scan-after", type=float, default=3.0, help="seconds until the simulated phone scans")
	gateway_type_arg(demo, GATEWAY_TYPES)
	demo.set_defaults(func=cmd_demo)

	doctor = sub.add_parser("doctor", help="check a gateway step by step: URL, reachability, type, key")
	where_arg(doctor)
	doctor.add_argument("--api-key", default=None, help=f"or set ${KEY_ENV}")
	doctor.add_argument("--probe", action="store_true", help="also create a test session to see a QR come")
	doctor.add_argument("--probe-s", type=float, default=30.0, help="how long the test session is watched")
	doctor.add_argument("--json", action="store_true", help="print the report as JSON")
	gateway_type_arg(doctor, default=AUTO)  # the admin may not know which one it is
	doctor.set_defaults(func=cmd_doctor)

	sim = sub.add_parser("simulate", help="run the gateway simulator on its own")
	sim.add_argument("--scenario", default="linked")
	sim.add_argument("--host", default="127.0.0.1")
	sim.add_argument("--port", default="3000", help="0-65535 (0: any free port)")
	sim.add_argument("--api-key", default=None, help=f"default: ${KEY_ENV} or sim-secret-key")
	gateway_type_arg(sim, GATEWAY_TYPES)
	sim.add_argument(
		"--waha-core-2024", action="store_true", help="as WAHA Core 2024: only the session 'default', any key"
	)
	sim.set_defaults(func=cmd_simulate)

	for name, func, text in (
		("connect", cmd_connect, "create a session and get its QR (polls until linked unless --json)"),
		("status", cmd_status, "one status read"),
	):
		p = sub.add_parser(name, help=text)
		where_arg(p)
		p.add_argument("--session", required=True, help="session id: 1-64 of A-Z a-z 0-9 _ -")
		p.add_argument("--api-key", default=None, help=f"or set ${KEY_ENV}")
		p.add_argument("--deadline", type=float, default=20.0, help="seconds one acquisition may take")
		p.add_argument("--json", action="store_true", help="print the structured payload and exit")
		gateway_type_arg(p)
		if name == "connect":
			p.add_argument("--wait", type=float, default=180.0, help="seconds to keep polling for the scan")
		p.set_defaults(func=func)

	sync = sub.add_parser(
		"sync", help="read a session's messages back from the gateway (what a catch-up reads)"
	)
	where_arg(sync)
	sync.add_argument("--session", required=True, help="session id: 1-64 of A-Z a-z 0-9 _ -")
	sync.add_argument("--api-key", default=None, help=f"or set ${KEY_ENV}")
	sync.add_argument(
		"--since", type=_when, default=None, help="unix seconds or ISO date/time (default: 1 h ago)"
	)
	sync.add_argument("--max-pages", type=int, default=20, help=f"pages read at most (1-{MAX_PAGES})")
	sync.add_argument("--deadline", type=float, default=30.0, help="seconds the read may take")
	sync.add_argument("--json", action="store_true", help="print what was read as JSON")
	gateway_type_arg(sync)
	sync.set_defaults(func=cmd_sync)
	return parser


# What a bench gives the CLI for --gateway NAME: the record's URL, key and type (a KeyError says why not).
Resolver = Callable[[str], tuple[str, str, str]]


def main(argv: list[str] | None = None, resolve_gateway: Resolver | None = None) -> int:
	args = build_parser().parse_args(argv)
	problem = number_problem(args)
	if problem:
		print(f"error: {problem}", file=sys.stderr)
		return EXIT_USAGE
	if getattr(args, "session", None) is not None:
		try:
			validate_session_id(args.session)
		except GatewayError as e:
			return _report_failure(e, args)
	if getattr(args, "gateway", None):
		if resolve_gateway is None:
			print(
				"error: --gateway NAME reads a site's WhatsApp Gateway record: run it inside a bench "
				"(bench --site SITE whatsapp-crm ...), or give --url and --api-key",
				file=sys.stderr,
			)
			return EXIT_USAGE
		try:
			args.url, key, gateway_type = resolve_gateway(args.gateway)
		except KeyError as e:
			print(f"error: {e.args[0] if e.args else e}", file=sys.stderr)
			return EXIT_USAGE
		args.api_key = args.api_key or key
		if not any(a.startswith("--gateway-type") for a in (argv or sys.argv[1:])):
			args.gateway_type = gateway_type
	try:
		return args.func(args)
	except KeyboardInterrupt:
		return 130


if __name__ == "__main__":
	raise SystemExit(main())
