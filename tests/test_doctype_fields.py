"""Static checks that the Python and JS use only fields the doctype JSON defines (no bench needed).

A renamed or missing field otherwise only shows up as a silent ``None`` in production.
"""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import pytest

from whatsapp_crm.gateway import acquire

APP = Path(__file__).resolve().parents[1] / "whatsapp_crm"
DOCTYPES = APP / "whatsapp_crm" / "doctype"
STANDARD = {
	"name",
	"doctype",
	"owner",
	"creation",
	"modified",
	"modified_by",
	"docstatus",
	"idx",
	"__islocal",
}
LAYOUT = {"Section Break", "Column Break", "Tab Break", "HTML"}


def load(folder: str) -> dict:
	return json.loads((DOCTYPES / folder / f"{folder}.json").read_text())


def data_fields(meta: dict) -> set[str]:
	return {f["fieldname"] for f in meta["fields"] if f["fieldtype"] not in LAYOUT}


SESSION = load("whatsapp_session")
SETTINGS = load("whatsapp_crm_settings")
EVENT = load("whatsapp_session_event")
MODULE = APP / "whatsapp_crm"


def options(meta: dict, fieldname: str) -> list[str]:
	return next(f["options"] for f in meta["fields"] if f["fieldname"] == fieldname).split("\n")


def module_constant(path: Path, name: str):
	"""A literal assigned at module level (the modules import frappe, so read them from the source)."""
	for node in ast.parse(path.read_text()).body:
		if isinstance(node, ast.Assign):
			for target in node.targets:
				if isinstance(target, ast.Name) and target.id == name:
					return ast.literal_eval(node.value)
				if isinstance(target, ast.Tuple) and name in [getattr(e, "id", "") for e in target.elts]:
					values = ast.literal_eval(node.value)
					return values[[e.id for e in target.elts].index(name)]
	raise AssertionError(f"{name} not found in {path}")


@pytest.mark.parametrize("meta", [SESSION, SETTINGS, EVENT], ids=["session", "settings", "event"])
def test_json_is_consistent(meta):
	names = [f["fieldname"] for f in meta["fields"]]
	assert names == meta["field_order"]
	assert len(names) == len(set(names))
	assert meta["module"] == (APP / "modules.txt").read_text().strip()
	roles = {p["role"] for p in meta["permissions"]}
	assert roles == {"System Manager", "WhatsApp Manager"}


@pytest.mark.parametrize(
	"folder,meta",
	[("whatsapp_session", SESSION), ("whatsapp_crm_settings", SETTINGS), ("whatsapp_session_event", EVENT)],
	ids=["session", "settings", "event"],
)
def test_type_hints_block_matches_json(folder, meta):
	source = (DOCTYPES / folder / f"{folder}.py").read_text()
	block = source.split("# begin: auto-generated types", 1)[1].split("# end: auto-generated types", 1)[0]
	hinted = set(re.findall(r"^\t\t(\w+): DF\.", block, re.M))
	assert hinted == data_fields(meta)


def test_session_service_writes_only_real_fields():
	tree = ast.parse((APP / "sessions" / "service.py").read_text())
	written: set[str] = set()
	for node in ast.walk(tree):
		dicts = []
		if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "values":
			dicts.append(node.value)  # values = {...}, later passed to db_set
		if isinstance(node, ast.Call) and getattr(node.func, "attr", "") in ("db_set", "write") and node.args:
			dicts.append(node.args[0])
		if isinstance(node, ast.Subscript) and getattr(node.value, "id", "") == "values":
			if isinstance(node.slice, ast.Constant):
				written.add(node.slice.value)
		for d in dicts:
			if isinstance(d, ast.Dict):
				written |= {k.value for k in d.keys if isinstance(k, ast.Constant)}
	assert written, "the pattern found nothing: the check would pass vacuously"
	assert written <= data_fields(SESSION), written - data_fields(SESSION)


def test_settings_attributes_read_by_the_glue_exist():
	methods = {"get_password", "get", "set", "update", "save"}
	used = set()
	for path in (
		APP / "integration.py",
		APP / "sessions" / "watcher.py",
		APP / "sessions" / "sweep.py",
		APP / "sessions" / "service.py",
		DOCTYPES / "whatsapp_crm_settings" / "whatsapp_crm_settings.py",
	):
		used |= set(re.findall(r"\bsettings\.(\w+)", path.read_text()))
	assert used - methods, "the pattern found nothing"
	assert used - methods <= data_fields(SETTINGS), (used - methods) - data_fields(SETTINGS)
	# the controller imports frappe, so read its BOUNDS table from the source
	tree = ast.parse((DOCTYPES / "whatsapp_crm_settings" / "whatsapp_crm_settings.py").read_text())
	bounds = next(
		ast.literal_eval(node.value)
		for node in tree.body
		if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "BOUNDS"
	)
	assert set(bounds) <= data_fields(SETTINGS)


@pytest.mark.parametrize(
	"path",
	[
		DOCTYPES / "whatsapp_session" / "whatsapp_session.js",
		DOCTYPES / "whatsapp_session" / "whatsapp_session_list.js",
	],
	ids=lambda p: p.name,
)
def test_js_reads_only_real_fields(path):
	used = set(re.findall(r"\b(?:frm|doc)\.doc\.(\w+)", path.read_text()))
	used |= set(re.findall(r"\bdoc\.(\w+)", path.read_text())) - {"doc"}
	assert used <= data_fields(SESSION) | STANDARD, used - data_fields(SESSION) - STANDARD


def test_status_options_match_the_payload_vocabulary():
	options = next(f["options"] for f in SESSION["fields"] if f["fieldname"] == "status").split("\n")
	assert options == [
		acquire.NOT_CREATED,
		acquire.CONNECTING,
		acquire.QR_READY,
		acquire.CONNECTED,
		acquire.DISCONNECTED,
		acquire.FAILED,
	]
	for path in ("whatsapp_session.js", "whatsapp_session_list.js"):
		source = (DOCTYPES / "whatsapp_session" / path).read_text()
		for option in options:
			assert re.search(rf'"?{re.escape(option)}"?:\s*"\w+"', source), (path, option)


def test_settings_defaults_match_the_gateway_policy():
	"""The numbers an admin sees as defaults are the policy's own defaults
	(see docs/architecture.md, 'QR acquisition')."""
	defaults = {f["fieldname"]: f.get("default") for f in SETTINGS["fields"]}
	policy = acquire.QrPolicy()
	pairs = {
		"max_attempts": policy.max_attempts,
		"connect_timeout": policy.connect_timeout,
		"status_timeout": policy.status_timeout,
		"qr_timeout": policy.qr_timeout,
		"wait_initial": policy.not_ready_wait,
		"wait_step": policy.not_ready_step,
		"wait_max": policy.not_ready_max,
		"qr_error_wait": policy.qr_error_wait,
		"timeout_wait": policy.timeout_wait,
		"deadline": policy.deadline,
		"poll_interval": policy.poll_interval,
	}
	for field, value in pairs.items():
		assert float(defaults[field]) == value, field


def defines(dotted: str) -> bool:
	module, func = dotted.rsplit(".", 1)
	return f"def {func}(" in (APP.parent / (module.replace(".", "/") + ".py")).read_text()


def test_hooks_point_at_files_that_exist():
	from whatsapp_crm import hooks

	for paths in hooks.doctype_js.values():
		for path in paths if isinstance(paths, list) else [paths]:
			assert (APP / path).is_file(), path
	assert defines(hooks.after_install)
	for events in getattr(hooks, "doc_events", {}).values():
		for handlers in events.values():
			for handler in handlers if isinstance(handlers, list) else [handlers]:
				assert defines(handler), handler


def test_log_clearing_doctypes_can_be_cleared():
	"""Log Settings only clears a doctype whose controller has clear_old_logs (frappe's LogType protocol)."""
	from whatsapp_crm import hooks

	assert hooks.default_log_clearing_doctypes
	for doctype, days in hooks.default_log_clearing_doctypes.items():
		folder = doctype.lower().replace(" ", "_")
		assert load(folder)["name"] == doctype
		controller = (DOCTYPES / folder / f"{folder}.py").read_text()
		assert re.search(r"@staticmethod\n\tdef clear_old_logs\(days", controller), doctype
		assert isinstance(days, int) and days > 0


# -- the session history ---------------------------------------------------------------------------------


def test_event_statuses_are_the_session_statuses():
	assert options(EVENT, "to_status") == options(SESSION, "status")
	assert options(EVENT, "from_status") == ["", *options(SESSION, "status")]  # empty: no previous status
	# history.STATUSES names acquire's constants
	statuses = next(
		node.value
		for node in ast.parse((APP / "sessions" / "history.py").read_text()).body
		if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "STATUSES"
	)
	assert [getattr(acquire, e.id) for e in statuses.elts] == [
		acquire.NOT_CREATED,
		acquire.CONNECTING,
		acquire.QR_READY,
		acquire.CONNECTED,
		acquire.DISCONNECTED,
		acquire.FAILED,
	]


def test_event_sources_match_the_code():
	names = ("USER", "WATCHER", "WEBHOOK", "SWEEP", "CATCH_UP")
	sources = [module_constant(APP / "sessions" / "history.py", n) for n in names]
	assert options(EVENT, "source") == sources
	# the session service names its sources with the same words
	service = module_constant(APP / "sessions" / "service.py", "SOURCES")
	assert set(service.values()) <= set(sources)


def test_event_is_a_log():
	assert EVENT["in_create"] == 1
	assert not EVENT.get("track_changes")
	assert not EVENT.get("istable") and not EVENT.get("is_submittable")
	session = next(f for f in EVENT["fields"] if f["fieldname"] == "session")
	assert (session["fieldtype"], session["options"], session["search_index"]) == (
		"Link",
		"WhatsApp Session",
		1,
	)
	for perm in EVENT["permissions"]:
		assert not perm.get("create") and not perm.get("write"), perm["role"]


def test_history_uses_only_real_event_fields():
	tree = ast.parse((APP / "sessions" / "history.py").read_text())
	written: set[str] = set()
	read: set[str] = set()
	for node in ast.walk(tree):
		if isinstance(node, ast.Dict) and any(
			isinstance(k, ast.Constant) and k.value == "doctype" for k in node.keys
		):
			written |= {k.value for k in node.keys if isinstance(k, ast.Constant)} - {"doctype"}
		if isinstance(node, ast.keyword) and node.arg in ("fields", "pluck"):
			value = ast.literal_eval(node.value)
			read |= set(value if isinstance(value, list) else [value])
		if isinstance(node, ast.Attribute) and getattr(node.value, "id", "") == "e":
			read.add(node.attr)
	assert written and read, "the pattern found nothing: the check would pass vacuously"
	assert written <= data_fields(EVENT), written - data_fields(EVENT)
	assert read <= data_fields(EVENT) | STANDARD, read - data_fields(EVENT) - STANDARD


def test_history_js_renders_into_a_real_field():
	source = (APP / "public" / "js" / "whatsapp_session_history.js").read_text()
	used = set(re.findall(r"\bfields_dict\.(\w+)", source))
	assert used == {"history_html"}
	html = {f["fieldname"]: f for f in SESSION["fields"]}
	assert html["history_html"]["fieldtype"] == "HTML"
	# appended at the end, after its collapsible section
	assert SESSION["field_order"][-2:] == ["history_section", "history_html"]
	assert html["history_section"]["collapsible"] == 1


# -- the workspace and its number cards ------------------------------------------------------------------


def workspace() -> dict:
	return json.loads((MODULE / "workspace" / "whatsapp_crm" / "whatsapp_crm.json").read_text())


def number_cards() -> dict[str, dict]:
	cards = {}
	for path in sorted((MODULE / "number_card").glob("*/*.json")):
		card = json.loads(path.read_text())
		assert path.parent.name == path.stem == card["name"].lower().replace(" ", "_"), path
		cards[card["name"]] = card
	return cards


def filter_fields(filters_json: str, doctype: str) -> set[str]:
	filters = json.loads(filters_json or "[]")
	assert all(f[0] == doctype for f in filters), filters
	return {f[1] for f in filters}


def test_number_cards_count_sessions_by_real_statuses():
	cards = number_cards()
	assert len(cards) == 4
	statuses = set(options(SESSION, "status"))
	counted = []
	for card in cards.values():
		assert card["doctype"] == "Number Card" and card["is_standard"] == 1 and card["label"] == card["name"]
		assert card["module"] == (APP / "modules.txt").read_text().strip()
		assert (card["type"], card["document_type"], card["function"]) == (
			"Document Type",
			"WhatsApp Session",
			"Count",
		)
		assert filter_fields(card["filters_json"], "WhatsApp Session") == {"status"}
		for _dt, _field, op, value, *_ in json.loads(card["filters_json"]):
			values = value if op == "in" else [value]
			assert set(values) <= statuses
			counted += values
	# Connected, Waiting (Connecting or QR Ready), Disconnected, Failed: each status at most once
	assert sorted(counted) == sorted(statuses - {"Not Created"})


def test_workspace_content_names_its_blocks():
	ws = workspace()
	assert (ws["doctype"], ws["name"], ws["label"], ws["public"]) == (
		"Workspace",
		"WhatsApp CRM",
		"WhatsApp CRM",
		1,
	)
	assert ws["module"] == (APP / "modules.txt").read_text().strip()
	blocks = json.loads(ws["content"])
	named = {
		"shortcut": ("shortcut_name", {s["label"] for s in ws["shortcuts"]}),
		"number_card": ("number_card_name", {c["label"] for c in ws["number_cards"]}),
		"quick_list": ("quick_list_name", {q["label"] for q in ws["quick_lists"]}),
	}
	for kind, (key, labels) in named.items():
		used = [b["data"][key] for b in blocks if b["type"] == kind]
		assert sorted(used) == sorted(labels), kind  # every row shown once, every block backed by a row
	assert len({b["id"] for b in blocks}) == len(blocks)
	cards = number_cards()
	assert {c["number_card_name"] for c in ws["number_cards"]} == set(cards)


def test_workspace_shortcuts_and_lists_use_real_doctypes_and_fields():
	ws = workspace()
	doctypes = {"WhatsApp Session": SESSION, "WhatsApp CRM Settings": SETTINGS}
	targets = {s["link_to"] for s in ws["shortcuts"]}
	assert {"WhatsApp Session", "WhatsApp CRM Settings", "Error Log"} <= targets
	for shortcut in ws["shortcuts"]:
		if shortcut["link_to"] in doctypes and shortcut.get("stats_filter"):
			fields = filter_fields(shortcut["stats_filter"], shortcut["link_to"])
			assert fields <= data_fields(doctypes[shortcut["link_to"]])
	errors = next(s for s in ws["shortcuts"] if s["link_to"] == "Error Log")
	(_dt, field, op, titles, *_rest), *_more = json.loads(errors["stats_filter"])
	assert (field, op) == ("method", "in")  # Error Log keeps the title in `method`
	assert set(titles) == {
		module_constant(APP / "integration.py", "TITLE_QR"),
		module_constant(APP / "integration.py", "TITLE_GATEWAY"),
		module_constant(APP / "integration.py", "TITLE_LOST"),
	}
	assert [q["document_type"] for q in ws["quick_lists"]] == ["WhatsApp Session"]
