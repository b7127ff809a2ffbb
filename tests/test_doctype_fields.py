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


@pytest.mark.parametrize("meta", [SESSION, SETTINGS], ids=["session", "settings"])
def test_json_is_consistent(meta):
	names = [f["fieldname"] for f in meta["fields"]]
	assert names == meta["field_order"]
	assert len(names) == len(set(names))
	assert meta["module"] == (APP / "modules.txt").read_text().strip()
	roles = {p["role"] for p in meta["permissions"]}
	assert roles == {"System Manager", "WhatsApp Manager"}


@pytest.mark.parametrize(
	"folder,meta",
	[("whatsapp_session", SESSION), ("whatsapp_crm_settings", SETTINGS)],
	ids=["session", "settings"],
)
def test_type_hints_block_matches_json(folder, meta):
	source = (DOCTYPES / folder / f"{folder}.py").read_text()
	block = source.split("# begin: auto-generated types", 1)[1].split("# end: auto-generated types", 1)[0]
	hinted = set(re.findall(r"^\t\t(\w+): DF\.", block, re.M))
	assert hinted == data_fields(meta)


def test_session_controller_writes_only_real_fields():
	source = (DOCTYPES / "whatsapp_session" / "whatsapp_session.py").read_text()
	written = set(re.findall(r'values\["(\w+)"\]', source))
	written |= set(re.findall(r'^\t{4}"(\w+)": ', source, re.M))  # keys of the dicts passed to db_set
	assert written, "the pattern found nothing: the check would pass vacuously"
	assert written <= data_fields(SESSION), written - data_fields(SESSION)


def test_settings_attributes_read_by_the_glue_exist():
	methods = {"get_password", "get", "set", "update", "save"}
	used = set()
	for path in (APP / "integration.py", DOCTYPES / "whatsapp_crm_settings" / "whatsapp_crm_settings.py"):
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
	"""The numbers an admin sees as defaults are the policy's own defaults (DESIGN.md §4)."""
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


def test_hooks_point_at_files_that_exist():
	from whatsapp_crm import hooks

	for path in hooks.doctype_js.values():
		assert (APP / path).is_file(), path
	module, func = hooks.after_install.rsplit(".", 1)
	assert f"def {func}(" in (APP.parent / (module.replace(".", "/") + ".py")).read_text()
