"""The gateway layer's shape: it never imports frappe, and its modules import each other one way only
(messages of WhatsApp know nothing of the client that sends them), read from the source with ast."""

from __future__ import annotations

import ast
from pathlib import Path

GATEWAY = Path(__file__).resolve().parents[1] / "whatsapp_crm" / "gateway"


def imports_of(path: Path) -> set[str]:
	"""Modules a file imports at run time (``if TYPE_CHECKING:`` blocks left out), relative ones resolved
	to their name inside the gateway package."""
	tree = ast.parse(path.read_text(encoding="utf-8"))
	found: set[str] = set()

	def walk(nodes):
		for node in nodes:
			if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.dump(node.test):
				continue
			if isinstance(node, ast.Import):
				found.update(alias.name for alias in node.names)
			elif isinstance(node, ast.ImportFrom):
				found.add(("." * node.level) + (node.module or ""))
			for child in ast.iter_child_nodes(node):
				walk([child])

	walk(tree.body)
	return found


def test_the_gateway_layer_never_imports_frappe():
	offenders = {
		str(p.relative_to(GATEWAY)): sorted(m for m in imports_of(p) if m.split(".")[0] == "frappe")
		for p in GATEWAY.rglob("*.py")
	}
	assert len(offenders) > 20, "the walk found no modules: the check would pass vacuously"
	assert not {k: v for k, v in offenders.items() if v}


def test_whatsapp_messages_do_not_import_the_client():
	found = imports_of(GATEWAY / "messaging.py")
	assert ".errors" in found  # the walk sees its imports
	assert ".client" not in found and "whatsapp_crm.gateway.client" not in found


APP = GATEWAY.parent


def test_the_frappe_side_is_grouped_by_what_it_serves():
	root = sorted(p.stem for p in APP.glob("*.py"))
	assert root == ["__init__", "commands", "hooks", "install", "integration", "testing"]
	assert {"service", "watcher", "sweep", "history", "live"} <= {
		p.stem for p in (APP / "sessions").glob("*.py")
	}
	assert {"config", "cli", "install"} <= {p.stem for p in (APP / "gateways").glob("*.py")}
	assert not (GATEWAY / "simulator.py").exists() and not (GATEWAY / "messages.py").exists()
	assert (GATEWAY / "texts.py").exists() and (GATEWAY / "sim" / "__main__.py").exists()


def test_the_gateway_layer_knows_nothing_of_the_frappe_side():
	frappe_side = ("whatsapp_crm.sessions", "whatsapp_crm.gateways", "whatsapp_crm.chat", "whatsapp_crm.api")
	found = {
		str(p.relative_to(GATEWAY)): sorted(m for m in imports_of(p) if m.startswith(frappe_side))
		for p in GATEWAY.rglob("*.py")
	}
	assert len(found) > 20
	assert not {k: v for k, v in found.items() if v}
