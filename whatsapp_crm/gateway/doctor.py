"""diagnose(): what an admin checks when linking fails, as one call (CLI ``doctor`` and Test connection).

In order: the URL, reachability (and TLS for https), which gateway it is and its version, whether it accepts
the key, and, with ``probe``, whether it can reach WhatsApp at all: a throwaway session is created, watched
for up to ``probe_s`` for a QR, and deleted. Each check carries an English template and its arguments (see
texts.py), so the Frappe layer shows it in the viewer's language.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from . import texts
from .acquire import QrPolicy, acquire_qr
from .adapters import AUTO, Detection, adapter_class, detect, make_client
from .client import GatewayClient, Timeouts, normalise_base_url
from .errors import (
	BAD_RESPONSE,
	LICENSE_REQUIRED,
	PLAIN_HTTP,
	BadResponse,
	GatewayError,
	GatewayTimeout,
	NotConfigured,
	SessionNotAllowed,
	Unreachable,
)

OK, FAIL, SKIP = "ok", "fail", "skip"


@dataclass
class Check:
	name: str  # url | reachable | tls | type | key | history | probe
	result: str  # ok | fail | skip
	template: str
	args: list[str] = field(default_factory=list)
	code: str | None = None  # the typed error's code when it failed

	@property
	def text(self) -> str:
		return self.template.format(*self.args)

	def as_dict(self) -> dict:
		return {
			"name": self.name,
			"result": self.result,
			"template": self.template,
			"args": self.args,
			"code": self.code,
			"text": self.text,
		}


@dataclass
class Report:
	url: str
	gateway_type: str | None = None
	label: str | None = None
	version: str | None = None
	checks: list[Check] = field(default_factory=list)

	@property
	def ok(self) -> bool:
		return all(c.result != FAIL for c in self.checks)

	@property
	def description(self) -> str | None:
		if not self.label:
			return None
		return f"{self.label} {self.version}" if self.version else self.label

	def as_dict(self) -> dict:
		return {
			"ok": self.ok,
			"gateway_type": self.gateway_type,
			"gateway": self.description,
			"version": self.version,
			"checks": [c.as_dict() for c in self.checks],
		}


def diagnose(
	url: str,
	api_key: str,
	gateway_type: str = AUTO,
	timeouts: Timeouts | None = None,
	*,
	probe: bool = False,
	probe_s: float = 30.0,
	timeout: float = 5.0,
	clock: Callable[[], float] = time.monotonic,
	sleep: Callable[[float], None] = time.sleep,
) -> Report:
	"""Never raises a GatewayError: every finding is a check in the report. Stops at the first failure
	that makes the next checks meaningless."""
	report = Report(url=str(url or ""))
	add = report.checks.append
	try:
		report.url = normalise_base_url(url)
	except NotConfigured as e:
		add(Check("url", FAIL, texts.DOCTOR_BAD_URL, code=e.code))
		return report
	https = report.url.startswith("https://")

	try:
		named = None if gateway_type == AUTO else adapter_class(gateway_type)
	except NotConfigured as e:
		add(Check("type", FAIL, texts.DOCTOR_UNKNOWN_GATEWAY, code=e.code))
		return report
	# Detected even when the type is named: a named type is a claim to check, not a fact (a file server,
	# or another type's gateway, must not pass as the one named).
	try:
		found = detect(report.url, api_key, timeouts, timeout=timeout)
	except BadResponse as e:
		if named is None:
			_unreachable(report, e, https)
		else:
			add(Check("type", FAIL, texts.DOCTOR_NOT_THAT_TYPE, [named.label], code=e.code))
		return report
	except GatewayError as e:
		_unreachable(report, e, https)
		return report
	if named is not None and found.gateway_type != named.gateway_type:
		add(Check("type", FAIL, texts.DOCTOR_OTHER_TYPE, [found.label, named.label], code=BAD_RESPONSE))
		return report

	try:
		client = make_client(found.gateway_type, report.url, api_key, timeouts)
	except NotConfigured as e:
		add(Check("key", FAIL, texts.DOCTOR_NO_KEY, code=e.code))
		return report
	with client:
		health = client.health(timeout=timeout)
		if not health.reachable:
			_unreachable(report, health.error, https)
			return report
		add(Check("reachable", OK, texts.DOCTOR_REACHABLE, [str(health.latency_ms)]))
		if https:
			add(Check("tls", OK, texts.DOCTOR_TLS_OK))
		report.gateway_type, report.label = found.gateway_type, found.label
		report.version = health.version or found.version
		add(_type_check(Detection(found.gateway_type, found.label, report.version)))
		if health.key_accepted is False:
			# No key at all is another fix than a wrong one (WAHA 2025.10+ wants one, Core 2024 none).
			missing = not (api_key or "").strip() and client.key_needed_message
			template = missing or texts.BY_CODE["UNAUTHORIZED"]
			add(Check("key", FAIL, template, code="UNAUTHORIZED"))
			return report
		if health.key_accepted is None and isinstance(health.error, (GatewayTimeout, Unreachable)):
			# The server answers about itself but not about sessions: stuck, not a key problem.
			add(Check("key", FAIL, texts.DOCTOR_STALLS, code=health.error.code))
			return report
		if health.key_accepted is None:
			code = health.error.code if health.error else "BAD_RESPONSE"
			# GET / may answer while every business route refuses (Evolution 2.4 not activated).
			template = texts.BY_CODE[code] if code == LICENSE_REQUIRED else texts.DOCTOR_KEY_UNKNOWN
			add(Check("key", FAIL, template, code=code))
			return report
		if health.key_checked:
			add(Check("key", OK, texts.DOCTOR_KEY_OK))
		else:
			add(Check("key", SKIP, texts.DOCTOR_KEY_UNCHECKED))
		# Not a linking failure: said once here, so that an admin knows missed messages cannot come back.
		reason = client.history_problem(timeout=timeout)
		if reason is None:
			add(Check("history", OK, texts.DOCTOR_HISTORY_OK))
		else:
			add(
				Check(
					"history",
					SKIP,
					texts.for_history(reason, client.gateway_type),
					code="HISTORY_UNAVAILABLE",
				)
			)
		if probe:
			add(_probe(client, probe_s, clock=clock, sleep=sleep))
	return report


def _type_check(found: Detection) -> Check:
	"""Which gateway it is, and the versions of it this app was checked against."""
	simulated, real = found.checked
	if not simulated and not real:
		return Check("type", OK, texts.DOCTOR_TYPE, [found.description])
	template = texts.DOCTOR_TYPE_NOT_CHECKED if found.version_checked is False else texts.DOCTOR_TYPE_CHECKED
	return Check("type", OK, template, [found.description, ", ".join(simulated), ", ".join(real) or "-"])


def _unreachable(report: Report, error: GatewayError | None, https: bool) -> None:
	code = error.code if error else "UNREACHABLE"
	detail = error.detail if error else ""
	if https and isinstance(error, Unreachable) and error.reason == PLAIN_HTTP:
		report.checks.append(Check("tls", FAIL, texts.DOCTOR_TLS_PLAIN_HTTP, code=code))
	elif https and "TLS" in detail:
		report.checks.append(Check("tls", FAIL, texts.DOCTOR_TLS_FAILED, code=code))
	elif code == "BAD_RESPONSE":
		report.checks.append(Check("type", FAIL, texts.DOCTOR_UNKNOWN_GATEWAY, code=code))
	else:
		report.checks.append(Check("reachable", FAIL, texts.for_code(code), code=code))


def _probe(
	client: GatewayClient, probe_s: float, *, clock: Callable[[], float], sleep: Callable[[float], None]
) -> Check:
	session_id = f"wacrm-probe-{secrets.token_hex(3)}"
	policy = QrPolicy(deadline=min(20.0, probe_s))
	started = clock()
	try:
		try:
			client.create_session(session_id)
		except SessionNotAllowed:
			return Check("probe", SKIP, texts.DOCTOR_PROBE_ONE_SESSION, code="SESSION_NOT_ALLOWED")
		except GatewayError as e:
			return Check("probe", FAIL, texts.for_code(e.code), code=e.code)
		outcome = acquire_qr(client, session_id, policy, clock=clock, sleep=sleep)
		poll = replace(policy, max_attempts=1)
		while outcome.state == "waiting" and clock() - started < probe_s:
			sleep(min(2.0, max(0.0, probe_s - (clock() - started))))
			outcome = acquire_qr(client, session_id, poll, clock=clock, sleep=sleep)
		if outcome.state in ("qr", "connected"):
			return Check("probe", OK, texts.DOCTOR_PROBE_OK, [f"{clock() - started:.0f}"])
		if outcome.state == "waiting" and outcome.error_code in ("QR_NOT_READY", None):
			return Check("probe", FAIL, texts.NO_QR_CAUSES, [f"{probe_s:g}"], code="QR_NOT_READY")
		code = outcome.error_code or "SERVER_ERROR"
		return Check("probe", FAIL, texts.for_code(code), code=code)
	finally:
		try:
			client.delete_session(session_id, timeout=5)
		except GatewayError:
			pass  # the probe's name says what it is, should it be left behind
