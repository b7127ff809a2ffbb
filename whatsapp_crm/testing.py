"""Shared fixtures for the bench test suite (FrappeTestCase: Frappe v15's class, or v16's IntegrationTestCase): a gateway simulator on loopback, a test
WhatsApp Gateway pointing at it (the default while a class runs), settings with a fast policy, and session
factories. Not imported by production code."""

from __future__ import annotations

import frappe

try:
	# Frappe v16: the integration test base class (FrappeTestCase is deprecated there, removed in v17); the
	# v16 runner prepares a category's before_tests hooks and global test records by this class.
	from frappe.tests import IntegrationTestCase as FrappeTestCase
except ImportError:  # Frappe v15 (15.55.1 has no frappe.tests.IntegrationTestCase)
	from frappe.tests.utils import FrappeTestCase

from whatsapp_crm.chat.context import crm_currency
from whatsapp_crm.gateway_records.config import GATEWAY
from whatsapp_crm.integration import SESSION, SETTINGS, TITLE_GATEWAY, TITLE_QR
from whatsapp_crm.simulator import BaileysSimulator, make_simulator

TEST_KEY = "bench-SENTINEL-key-7c2d"
DESK_ROLE = "WhatsApp CRM Test Desk"
# Fast, but the same shape as the defaults: progressive waits, a deadline, bounded attempts.
FAST_POLICY = {
	"max_attempts": 5,
	"connect_timeout": 0.5,
	"status_timeout": 1,
	"qr_timeout": 1,
	"wait_initial": 0.2,
	"wait_step": 0.1,
	"wait_max": 0.5,
	"qr_error_wait": 0.5,
	"timeout_wait": 0.3,
	"deadline": 3,
	"poll_interval": 1,
	"error_log_window": 10,
	# the in-request path; live-session tests switch the monitor on themselves
	"use_monitor": 0,
	"request_wait": 0.5,
	"monitor_cap": 30,
	"pairing_limit": 5,
	"pairing_window": 10,
	# no registration of webhooks and no scheduled sweep
	"public_site_url": "",
	"health_check_interval": 0,
}
TEST_GATEWAY = "bench-test-gateway"
# What configure() sets on the test gateway (the rest goes to the settings); every test starts from these.
GATEWAY_DEFAULTS = {
	"gateway_type": "Baileys REST",
	"webhook_secret": "",
	"max_sessions": 0,
	"gateway_enabled": 1,
}


def preserve_settings(case) -> None:
	"""Put the site's settings and default gateway back after a test class (the code under test commits,
	e.g. Error Logs)."""
	saved = frappe.get_single(SETTINGS).as_dict()
	default = frappe.db.get_value(GATEWAY, {"is_default": 1, "name": ("!=", TEST_GATEWAY)}, "name")
	# The site's own gateways are switched off while the class runs: new sessions go to the test gateway.
	others = frappe.get_all(GATEWAY, filters={"enabled": 1, "name": ("!=", TEST_GATEWAY)}, pluck="name")
	for name in others:
		frappe.db.set_value(GATEWAY, name, "enabled", 0, update_modified=False)
	frappe.db.commit()  # nosemgrep: the code under test commits too; restored below

	def restore() -> None:
		settings = frappe.get_single(SETTINGS)
		settings.update({k: v for k, v in saved.items() if k in FAST_POLICY or k == "enabled"})
		settings.save(ignore_permissions=True)
		if frappe.db.exists(GATEWAY, TEST_GATEWAY):
			frappe.db.set_value(GATEWAY, TEST_GATEWAY, "is_default", 0)
		if default:
			frappe.db.set_value(GATEWAY, default, "is_default", 1)
		for name in others:
			frappe.db.set_value(GATEWAY, name, "enabled", 1, update_modified=False)
		frappe.db.commit()  # nosemgrep: restoring what the tests changed

	case.addClassCleanup(restore)


def save_gateway(name: str, url: str, api_key: str = TEST_KEY, **values):
	"""Create or update a gateway record (passwords included), and return it."""
	doc = frappe.get_doc(GATEWAY, name) if frappe.db.exists(GATEWAY, name) else frappe.new_doc(GATEWAY)
	doc.update({"label": name, "gateway_url": url, "api_key": api_key, **values})
	doc.save(ignore_permissions=True)
	return doc


def start_simulator(scenario: str = "qr_now", gateway_type: str = "baileys") -> BaileysSimulator:
	extra = {"qr_route_wait_s": 0.3} if gateway_type == "waha" else {}
	return make_simulator(gateway_type, api_key=TEST_KEY, scenario=scenario, **extra).start()


def configure(url: str, api_key: str = TEST_KEY, **overrides) -> None:
	"""Point the test gateway (the default) at ``url`` and give the settings the fast policy. Overrides
	named in GATEWAY_DEFAULTS go to the gateway (``gateway_enabled`` is its Enabled), the rest to the
	settings."""
	values = {**GATEWAY_DEFAULTS, **{k: v for k, v in overrides.items() if k in GATEWAY_DEFAULTS}}
	values["enabled"] = values.pop("gateway_enabled")
	save_gateway(TEST_GATEWAY, url, api_key, is_default=1, **values)
	settings = frappe.get_single(SETTINGS)
	policy = {k: v for k, v in overrides.items() if k not in GATEWAY_DEFAULTS}
	settings.update({"enabled": 1, **FAST_POLICY, **policy})
	settings.save(ignore_permissions=True)


# Sessions of tests about other things send at once (no caps in reach, no quiet hours, no typing or gaps):
# chat/test_sending.py tests the sending policy itself, on its own values.
OPEN_SENDING_POLICY = {
	"send_per_minute": 60,
	"send_per_hour": 1200,
	"send_per_day": 10000,
	"new_chats_per_day": 10000,
	"warmup_days": 0,
	"quiet_from": "",
	"quiet_to": "",
	"show_typing": 0,
	"gap_min_s": 0,
	"gap_max_s": 0,
}


def make_session(session_id: str, **fields):
	doc = frappe.get_doc(
		{
			"doctype": SESSION,
			"session_id": session_id,
			"label": session_id,
			**OPEN_SENDING_POLICY,
			**fields,
		}
	)
	return doc.insert(ignore_permissions=True)


def error_logs(session: str) -> list:
	return frappe.get_all(
		"Error Log",
		filters={
			"reference_doctype": SESSION,
			"reference_name": session,
			"method": ("in", [TITLE_QR, TITLE_GATEWAY]),
		},
		fields=["name", "method", "error"],
		order_by="creation asc",
	)


def cleanup(prefix: str) -> None:
	for name in frappe.get_all(SESSION, filters={"name": ("like", f"{prefix}%")}, pluck="name"):
		frappe.db.delete(SESSION, name)
	frappe.db.delete("Error Log", {"reference_doctype": SESSION, "reference_name": ("like", f"{prefix}%")})
	frappe.db.delete("Notification Log", {"document_type": SESSION, "document_name": ("like", f"{prefix}%")})
	if frappe.db.table_exists("WhatsApp Session Event"):
		frappe.db.delete("WhatsApp Session Event", {"session": ("like", f"{prefix}%")})
	frappe.db.commit()  # nosemgrep: tests clean up what the code under test committed


def capture_realtime(action):
	"""Run ``action()`` and return (its result, the realtime events it published), read from the Redis
	channel the socket.io server listens on."""
	import json

	from frappe.utils.background_jobs import get_redis_connection_without_auth

	pubsub = get_redis_connection_without_auth().pubsub()
	pubsub.subscribe("events")
	try:
		pubsub.get_message(timeout=1)  # the subscribe confirmation
		result = action()
		events = []
		while message := pubsub.get_message(timeout=0.5):
			if message["type"] == "message":
				events.append(json.loads(message["data"]))
	finally:
		pubsub.close()
	return result, events


def convert_lead(lead: str) -> str:
	"""CRM's own Lead to Deal conversion, as its Convert button does it, in CRM's base currency."""
	from crm.fcrm.doctype.crm_lead.crm_lead import (
		convert_to_deal,  # CRM is optional: only these tests need it
	)

	return convert_to_deal(
		lead,
		doc=frappe._dict(flags=frappe._dict(ignore_permissions=True)),
		deal={"currency": crm_currency()},
	)


def make_user(email: str, roles: list[str] | None = None) -> str:
	"""A desk user with exactly these roles (plus a harmless desk role so the user is a System User)."""
	if not frappe.db.exists("Role", DESK_ROLE):
		frappe.get_doc({"doctype": "Role", "role_name": DESK_ROLE, "desk_access": 1}).insert(
			ignore_permissions=True
		)
	if not frappe.db.exists("User", email):
		frappe.get_doc(
			{"doctype": "User", "email": email, "first_name": email.split("@")[0], "send_welcome_email": 0}
		).insert(ignore_permissions=True)
	user = frappe.get_doc("User", email)
	user.set("roles", [])
	user.add_roles(DESK_ROLE, *(roles or []))
	return email


class GatewayTestCase(FrappeTestCase):
	"""Starts the simulator, points the settings at it with the fast policy (restoring the site's own after
	the class), and removes the sessions whose names start with ``prefix``, with their Error Logs."""

	prefix = ""
	settings_overrides: dict = {}  # noqa: RUF012 (read-only per class)

	@classmethod
	def setUpClass(cls):
		super().setUpClass()
		preserve_settings(cls)
		cls.sim = start_simulator()
		cls.addClassCleanup(cls.sim.stop)

	def setUp(self):
		configure(self.sim.url, **self.settings_overrides)
		if self.prefix:
			cleanup(self.prefix)
			self.addCleanup(cleanup, self.prefix)
