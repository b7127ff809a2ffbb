"""The workspace's "WhatsApp Gateways" block (a Custom HTML Block: one card per gateway with its health),
kept in step with the files beside this module on install and migrate."""

from __future__ import annotations

from pathlib import Path

import frappe

BLOCK = "WhatsApp Gateways"
ROLES = ("System Manager", "WhatsApp Manager")
HERE = Path(__file__).resolve().parent / "block"


def ensure_block() -> None:
	values = {
		"html": '<div class="wa-gateways"></div>',
		"script": (HERE / "gateways.js").read_text(encoding="utf-8"),
		"style": (HERE / "gateways.css").read_text(encoding="utf-8"),
		"private": 0,
	}
	if frappe.db.exists("Custom HTML Block", BLOCK):
		doc = frappe.get_doc("Custom HTML Block", BLOCK)
		if all(doc.get(k) == v for k, v in values.items()):
			return
		doc.update(values)
	else:
		doc = frappe.new_doc("Custom HTML Block")
		doc.name = BLOCK
		doc.update(values)
		for role in ROLES:
			doc.append("roles", {"role": role})
	doc.flags.ignore_permissions = True
	doc.save() if not doc.is_new() else doc.insert(set_name=BLOCK)
