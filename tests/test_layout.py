"""The gateway layer's shape: it never imports frappe, and its modules import each other one way only
(messages of WhatsApp know nothing of the client that sends them), read from the source with ast. The simulator
and the terminal command are frappe-free too, and sit above it: terminal -> simulator -> gateway; so are the
inbox's rules, which use only the gateway and sending."""

from __future__ import annotations

import ast
from pathlib import Path

GATEWAY = Path(__file__).resolve().parents[1] / "whatsapp_crm" / "gateway"
SIMULATOR = GATEWAY.parent / "simulator"
TERMINAL = GATEWAY.parent / "terminal"
SENDING = GATEWAY.parent / "sending"
INBOX = GATEWAY.parent / "inbox"
FRAPPE_FREE = (GATEWAY, SENDING, INBOX, SIMULATOR, TERMINAL)


def import_nodes(path: Path) -> list[ast.Import | ast.ImportFrom]:
	"""The import statements a file runs (``if TYPE_CHECKING:`` blocks left out), at any depth."""
	found: list[ast.Import | ast.ImportFrom] = []

	def walk(nodes):
		for node in nodes:
			if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.dump(node.test):
				continue
			if isinstance(node, ast.Import | ast.ImportFrom):
				found.append(node)
			walk(ast.iter_child_nodes(node))

	walk(ast.parse(path.read_text(encoding="utf-8")).body)
	return found


def imports_of(path: Path) -> set[str]:
	"""Modules a file imports at run time; relative ones keep their dots (``.errors``)."""
	found: set[str] = set()
	for node in import_nodes(path):
		if isinstance(node, ast.Import):
			found.update(alias.name for alias in node.names)
		else:
			found.add(("." * node.level) + (node.module or ""))
	return found


def modules(*folders: Path) -> list[Path]:
	return [p for folder in folders for p in folder.rglob("*.py")]


def test_the_gateway_layer_never_imports_frappe():
	offenders = {
		str(p.relative_to(GATEWAY.parent)): sorted(m for m in imports_of(p) if m.split(".")[0] == "frappe")
		for p in modules(*FRAPPE_FREE)
	}
	assert len(offenders) > 30, "the walk found no modules: the check would pass vacuously"
	assert {"simulator/core.py", "terminal/cli.py", "terminal/demo.py"} <= offenders.keys()
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
	assert {"config", "cli", "install"} <= {p.stem for p in (APP / "gateway_records").glob("*.py")}
	assert not (GATEWAY / "simulator.py").exists() and not (GATEWAY / "messages.py").exists()
	assert not (GATEWAY / "sim").exists() and not (GATEWAY / "cli.py").exists()
	assert (GATEWAY / "texts.py").exists() and (SIMULATOR / "__main__.py").exists()
	assert {"cli", "demo"} <= {p.stem for p in TERMINAL.glob("*.py")}


def test_the_gateway_layer_knows_nothing_of_the_frappe_side():
	frappe_side = (
		"whatsapp_crm.sessions",
		"whatsapp_crm.gateway_records",
		"whatsapp_crm.chat",
		"whatsapp_crm.api",
		"whatsapp_crm.integration",
		"whatsapp_crm.testing",
		"whatsapp_crm.whatsapp_crm",
	)
	found = {
		str(p.relative_to(GATEWAY.parent)): sorted(m for m in imports_of(p) if m.startswith(frappe_side))
		for p in modules(*FRAPPE_FREE)
	}
	assert len(found) > 30
	assert not {k: v for k, v in found.items() if v}


def absolute_imports(path: Path) -> set[str]:
	"""imports_of with relative names resolved: ``..simulator`` in gateway/client.py is whatsapp_crm.simulator."""
	package = path.relative_to(GATEWAY.parents[1]).with_suffix("").parts[:-1]
	found = set()
	for name in imports_of(path):
		level = len(name) - len(name.lstrip("."))
		if level:
			base = package[: len(package) - (level - 1)]
			name = ".".join([*base, name[level:]] if name[level:] else base)
		found.add(name)
	return found


def uses(path: Path, *packages: str) -> list[str]:
	return sorted(m for m in absolute_imports(path) if any(m == p or m.startswith(p + ".") for p in packages))


def test_the_gateway_uses_neither_the_simulator_nor_the_terminal_and_the_simulator_not_the_terminal():
	"""terminal -> simulator -> gateway, and terminal -> gateway: never the other way."""
	found = {
		str(p.relative_to(GATEWAY.parent)): uses(p, "whatsapp_crm.simulator", "whatsapp_crm.terminal")
		for p in modules(GATEWAY)
	}
	found |= {
		str(p.relative_to(GATEWAY.parent)): uses(p, "whatsapp_crm.terminal") for p in modules(SIMULATOR)
	}
	assert len(found) > 30
	# the walk sees both kinds of import
	assert uses(SIMULATOR / "png.py", "whatsapp_crm.gateway") == ["whatsapp_crm.gateway.qr"]
	assert uses(SIMULATOR / "faults.py", "whatsapp_crm.simulator") == [
		"whatsapp_crm.simulator.model",
		"whatsapp_crm.simulator.server",
	]
	assert "whatsapp_crm.simulator" in uses(TERMINAL / "demo.py", "whatsapp_crm.simulator")
	assert not {k: v for k, v in found.items() if v}


def test_the_inbox_rules_use_only_the_gateway_and_sending():
	"""inbox -> sending -> gateway: the inbox's rules know nothing of the simulator, the terminal or Frappe."""
	allowed = ("whatsapp_crm.gateway", "whatsapp_crm.sending", "whatsapp_crm.inbox")
	found = {str(p.relative_to(APP)): uses(p, "whatsapp_crm") for p in modules(INBOX)}
	assert {"inbox/hours.py", "inbox/files.py", "inbox/quick_replies.py"} <= found.keys()
	assert "whatsapp_crm.gateway.messaging" in found["inbox/files.py"]  # the walk sees its imports
	outside = {k: [m for m in v if ".".join(m.split(".")[:2]) not in allowed] for k, v in found.items()}
	assert not {k: v for k, v in outside.items() if v}


# -- no hidden cycles, no imports upward ------------------------------------------------------------------

# Function-level imports of the app's own modules, each with its reason; any other one fails.
JUSTIFIED_LATE_IMPORTS = {
	# bench imports every app's commands at each of its invocations: the terminal is loaded only when run
	("commands.py", "whatsapp_crm.gateway_records.cli"),
}
# The layers, lowest first: a module imports its own layer or lower ones, never a higher one.
LAYERS = (
	("whatsapp_crm.gateway",),
	("whatsapp_crm.sending",),
	("whatsapp_crm.inbox",),
	("whatsapp_crm.simulator",),
	("whatsapp_crm.terminal",),
	("whatsapp_crm.integration",),
	("whatsapp_crm.gateway_records",),
	("whatsapp_crm.sessions",),
	("whatsapp_crm.chat",),
	("whatsapp_crm.api", "whatsapp_crm.whatsapp_crm", "whatsapp_crm.patches", "whatsapp_crm.install"),
	("whatsapp_crm.testing", "whatsapp_crm.commands", "whatsapp_crm.hooks"),
)


def app_modules() -> list[Path]:
	"""The app's production modules (tests, which import whatever they test, are left out)."""
	return [p for p in modules(APP) if not p.name.startswith("test_")]


def module_name(path: Path) -> str:
	parts = path.relative_to(APP.parent).with_suffix("").parts
	return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def late_imports(path: Path) -> set[str]:
	"""The app's own modules a file imports inside a function or method (relative ones resolved)."""
	tree = ast.parse(path.read_text(encoding="utf-8"))
	package = path.relative_to(APP.parent).with_suffix("").parts[:-1]
	found = set()
	for func in ast.walk(tree):
		if not isinstance(func, ast.FunctionDef | ast.AsyncFunctionDef):
			continue
		for node in ast.walk(func):
			if isinstance(node, ast.ImportFrom):
				name = node.module or ""
				if node.level:
					name = ".".join([*package[: len(package) - (node.level - 1)], *([name] if name else [])])
				if name.startswith("whatsapp_crm"):
					found.add(name)
			elif isinstance(node, ast.Import):
				found.update(a.name for a in node.names if a.name.startswith("whatsapp_crm"))
	return found


def test_no_function_level_import_of_the_apps_own_modules_outside_the_justified_list():
	found = {(str(p.relative_to(APP)), name) for p in app_modules() for name in late_imports(p)}
	assert len(app_modules()) > 80  # the walk sees the app
	assert late_imports(APP / "commands.py") == {"whatsapp_crm.gateway_records.cli"}  # and a late import
	assert found == JUSTIFIED_LATE_IMPORTS


def app_edges(path: Path, names: set[str]) -> set[str]:
	"""The app's modules a file imports at run time, ``from package import module`` resolved to the module."""
	package = path.relative_to(APP.parent).with_suffix("").parts[:-1]
	found: set[str] = set()
	for node in import_nodes(path):
		if isinstance(node, ast.Import):
			found.update(a.name for a in node.names if a.name in names)
			continue
		base = node.module or ""
		if node.level:
			base = ".".join([*package[: len(package) - (node.level - 1)], *([base] if base else [])])
		if base in names:
			found.add(base)
		found.update(f"{base}.{a.name}" for a in node.names if f"{base}.{a.name}" in names)
	return found


def layer_of(name: str) -> int | None:
	for rank, prefixes in enumerate(LAYERS):
		if any(name == p or name.startswith(p + ".") for p in prefixes):
			return rank
	return None


def test_no_module_imports_a_higher_layer():
	names = {module_name(p) for p in app_modules()}
	upward, seen = {}, 0
	for path in app_modules():
		own = layer_of(module_name(path))
		if own is None:
			continue
		edges = app_edges(path, names)
		seen += len(edges)
		higher = sorted(m for m in edges if (layer_of(m) or 0) > own)
		if higher:
			upward[module_name(path)] = higher
	assert seen > 150 and layer_of("whatsapp_crm.api.webhook") > layer_of("whatsapp_crm.chat.parked")
	assert not upward


def test_the_apps_modules_import_each_other_without_a_cycle():
	graph: dict[str, set[str]] = {}
	names = {module_name(p) for p in app_modules()}
	for path in app_modules():
		graph[module_name(path)] = app_edges(path, names) - {module_name(path)}
	assert sum(len(v) for v in graph.values()) > 150  # the graph is real
	done: set[str] = set()

	def visit(node: str, trail: list[str]) -> None:
		if node in trail:
			raise AssertionError("import cycle: " + " -> ".join([*trail[trail.index(node) :], node]))
		if node in done:
			return
		for nxt in sorted(graph.get(node, ())):
			visit(nxt, [*trail, node])
		done.add(node)

	for start in sorted(graph):
		visit(start, [])
