"""Keep whatsapp_crm/locale/main.pot and es.po complete and tidy, without a bench.

Extracts every user-facing string the way this app marks them, then checks the catalogs against them:

- Python: the literal first argument of ``_(...)`` in whatsapp_crm/**/*.py, except testing.py and test_*.py
  (gateway/texts.py marks its strings with a local no-op ``_``: those count too);
- JavaScript: the literal first argument of ``__("...")`` in whatsapp_crm/**/*.js;
- DocType JSON: the doctype name and description, each field's label and description, each Select option;
- Workspace JSON: the workspace's label and title, and the labels of its shortcuts (and their count format),
  link cards, number cards, charts and quick lists (Frappe translates each of them on the server);
- Number Card JSON: the card's label;
- the role name.

When a check fails, add the listed strings to both files (empty msgstr in main.pot, Spanish in es.po) and
drop the stale ones.
"""

from __future__ import annotations

import ast
import json
import re
from collections import Counter
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "whatsapp_crm"
LOCALE = PACKAGE / "locale"
POT_PATH = LOCALE / "main.pot"
PO_PATH = LOCALE / "es.po"

ROLES = ("WhatsApp Manager",)
SKIPPED_PY = {"testing.py"}

JS_CALL = re.compile(r"""(?<![\w$.])__\(\s*"((?:[^"\\]|\\.)*)"(\s*[^\s])?""", re.S)
# __("Open", null, "Conversation status"): a context, for a word Frappe translates one way and a screen
# needs another; stored as gettext does, "context\x04msgid", and read by Frappe as "msgid:context"
JS_CONTEXT = re.compile(r"""\s*,\s*null\s*,\s*"((?:[^"\\]|\\.)*)"\s*\)""", re.S)
CONTEXT_SEP = "\x04"
JS_NON_DOUBLE_QUOTED = re.compile(r"""(?<![\w$.])__\(\s*['`]""")
JS_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "b": "\b", "f": "\f", "v": "\v", "0": "\0"}
PLACEHOLDER = re.compile(r"\{\w*\}")
PO_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\"}


# --- extraction ----------------------------------------------------------------------------------------


def rel(path: Path) -> str:
	return path.relative_to(ROOT).as_posix()


def py_files() -> list[Path]:
	return sorted(
		p
		for p in PACKAGE.rglob("*.py")
		if p.name not in SKIPPED_PY and not p.name.startswith("test_") and "__pycache__" not in p.parts
	)


def js_files() -> list[Path]:
	return sorted(p for p in PACKAGE.rglob("*.js") if "node_modules" not in p.parts and "dist" not in p.parts)


def doctype_files() -> list[Path]:
	return sorted((PACKAGE / "whatsapp_crm" / "doctype").glob("*/*.json"))


def workspace_files() -> list[Path]:
	return sorted(PACKAGE.glob("*/workspace/*/*.json"))


def number_card_files() -> list[Path]:
	return sorted(PACKAGE.glob("*/number_card/*/*.json"))


def is_translate_call(node: ast.AST) -> bool:
	return (
		isinstance(node, ast.Call)
		and isinstance(node.func, ast.Name)
		and node.func.id == "_"
		and bool(node.args)
	)


def extract_py(path: Path) -> list[str]:
	tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
	return [
		node.args[0].value
		for node in ast.walk(tree)
		if is_translate_call(node)
		and isinstance(node.args[0], ast.Constant)
		and isinstance(node.args[0].value, str)
	]


def unescape_js(raw: str) -> str:
	def repl(m: re.Match) -> str:
		c = m.group(1)
		if c in JS_ESCAPES:
			return JS_ESCAPES[c]
		if c.startswith("u{"):
			return chr(int(c[2:-1], 16))
		if c[0] in "ux":
			return chr(int(c[1:], 16))
		if c == "\n":  # line continuation
			return ""
		return c

	return re.sub(r"\\(u\{[0-9a-fA-F]+\}|u[0-9a-fA-F]{4}|x[0-9a-fA-F]{2}|.)", repl, raw, flags=re.S)


def extract_js(path: Path) -> list[str]:
	text = path.read_text(encoding="utf-8")
	found = []
	for m in JS_CALL.finditer(text):
		context = JS_CONTEXT.match(text, m.end(1) + 1)
		msgid = unescape_js(m.group(1))
		found.append(unescape_js(context.group(1)) + CONTEXT_SEP + msgid if context else msgid)
	return found


def extract_doctype(path: Path) -> list[str]:
	doc = json.loads(path.read_text(encoding="utf-8"))
	if doc.get("doctype") != "DocType":
		return []
	found = [doc.get("name"), doc.get("description")]
	for df in doc.get("fields", []):
		found += [df.get("label"), df.get("description")]
		if df.get("fieldtype") == "Select" and df.get("options"):
			found += df["options"].split("\n")
	return [s for s in found if isinstance(s, str) and s.strip()]


# Workspace child tables whose rows carry a label the desk shows; a shortcut's count format is shown too
# (``__(format)`` in the shortcut widget).
WORKSPACE_TABLES = {
	"shortcuts": ("label", "format"),
	"links": ("label",),
	"number_cards": ("label",),
	"charts": ("label",),
	"quick_lists": ("label",),
}


def extract_workspace(path: Path) -> list[str]:
	doc = json.loads(path.read_text(encoding="utf-8"))
	if doc.get("doctype") != "Workspace":
		return []
	found = [doc.get("label"), doc.get("title")]
	for table, keys in WORKSPACE_TABLES.items():
		for row in doc.get(table) or []:
			found += [row.get(key) for key in keys]
	return [s for s in found if isinstance(s, str) and s.strip()]


def extract_number_card(path: Path) -> list[str]:
	doc = json.loads(path.read_text(encoding="utf-8"))
	if doc.get("doctype") != "Number Card":
		return []
	return [s for s in [doc.get("label")] if isinstance(s, str) and s.strip()]


def custom_field_files() -> list[Path]:
	return sorted(PACKAGE.glob("*/*_fields.json"))


def extract_custom_fields(path: Path) -> list[str]:
	doc = json.loads(path.read_text(encoding="utf-8"))
	if doc.get("doctype") != "Custom Fields":
		return []
	found = [s for df in doc.get("fields", []) for s in (df.get("label"), df.get("description"))]
	for df in doc.get("fields", []):
		if df.get("fieldtype") == "Select" and df.get("options"):
			found += df["options"].split("\n")  # shown translated, as a doctype's own Select options
	return [s for s in found if isinstance(s, str) and s.strip()]


def extract_all() -> dict[str, list[str]]:
	"""msgid -> sorted source paths (relative to the repository, as Frappe's POT references are)."""
	found: dict[str, set[str]] = {}

	def add(strings: list[str], where: str) -> None:
		for s in strings:
			found.setdefault(s, set()).add(where)

	for p in py_files():
		add(extract_py(p), rel(p))
	for p in js_files():
		add(extract_js(p), rel(p))
	for p in doctype_files():
		add(extract_doctype(p), rel(p))
	for p in workspace_files():
		add(extract_workspace(p), rel(p))
	for p in number_card_files():
		add(extract_number_card(p), rel(p))
	for p in custom_field_files():
		add(extract_custom_fields(p), rel(p))
	for role in ROLES:
		add([role], rel(PACKAGE / "integration.py"))
	return {k: sorted(v) for k, v in found.items()}


# --- a tiny PO reader ----------------------------------------------------------------------------------


class POError(ValueError):
	pass


def po_unquote(token: str, where: str) -> str:
	token = token.strip()
	if len(token) < 2 or not (token.startswith('"') and token.endswith('"')):
		raise POError(f"{where}: expected a quoted string, got {token!r}")
	body = token[1:-1]
	out, i = [], 0
	while i < len(body):
		c = body[i]
		if c == "\\":
			if i + 1 >= len(body) or body[i + 1] not in PO_ESCAPES:
				raise POError(f"{where}: bad escape in {token!r}")
			out.append(PO_ESCAPES[body[i + 1]])
			i += 2
			continue
		if c == '"':
			raise POError(f"{where}: unescaped quote in {token!r}")
		out.append(c)
		i += 1
	return "".join(out)


def parse_po(path: Path) -> list[dict]:
	"""Entries as dicts with msgid, msgstr, refs (``#:``), flags (``#,``) and line; header included."""
	entries: list[dict] = []
	cur: dict | None = None
	field: str | None = None
	pending: dict = {"refs": [], "flags": []}

	def finish() -> None:
		nonlocal cur
		if cur is not None:
			if "msgstr" not in cur:
				raise POError(f"{path.name}:{cur['line']}: msgid without msgstr")
			entries.append(cur)
		cur = None

	for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
		where = f"{path.name}:{n}"
		s = line.strip()
		if not s:
			finish()
			field = None
		elif s.startswith("#"):
			if cur is not None and "msgstr" in cur:
				finish()
			if s.startswith("#:"):
				pending["refs"] += s[2:].split()
			elif s.startswith("#,"):
				pending["flags"] += [f.strip() for f in s[2:].split(",")]
			elif s.startswith("#~"):
				raise POError(f"{where}: obsolete entry; remove it")
		elif s.startswith("msgid_plural ") or s.startswith("msgstr["):
			raise POError(f"{where}: plurals are not used in this app")
		elif s.startswith("msgctxt "):
			finish()
			pending["context"] = po_unquote(s[8:], where)
			field = None
		elif s.startswith("msgid "):
			finish()
			context = pending.pop("context", None)
			msgid = po_unquote(s[6:], where)
			cur = {"msgid": context + CONTEXT_SEP + msgid if context else msgid, "line": n, **pending}
			pending = {"refs": [], "flags": []}
			field = "msgid"
		elif s.startswith("msgstr "):
			if cur is None or field != "msgid":
				raise POError(f"{where}: msgstr without msgid")
			cur["msgstr"] = po_unquote(s[7:], where)
			field = "msgstr"
		elif s.startswith('"'):
			if cur is None or field is None:
				raise POError(f"{where}: continuation string outside an entry")
			cur[field] += po_unquote(s, where)
		else:
			raise POError(f"{where}: cannot parse {line!r}")
	finish()
	return entries


def header(entries: list[dict]) -> dict[str, str]:
	assert entries and entries[0]["msgid"] == "", 'the catalog must start with the header entry (msgid "")'
	fields = {}
	for line in entries[0]["msgstr"].splitlines():
		key, _, value = line.partition(":")
		fields[key.strip()] = value.strip()
	return fields


def messages(entries: list[dict]) -> list[dict]:
	return [e for e in entries if e["msgid"] != ""]


def listing(strings) -> str:
	return "\n".join(f"  {s!r}" for s in sorted(strings))


# --- tests ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def source() -> dict[str, list[str]]:
	return extract_all()


@pytest.fixture(scope="module")
def pot() -> list[dict]:
	return parse_po(POT_PATH)


@pytest.fixture(scope="module")
def po() -> list[dict]:
	return parse_po(PO_PATH)


def test_extraction_finds_strings(source):
	assert len(source) > 50, f"only {len(source)} strings extracted: is the extractor broken?"
	for expected in ("WhatsApp Session", "Not Created", "Test connection", "WhatsApp Manager"):
		assert expected in source
	assert "Conversation status" + CONTEXT_SEP + "Open" in source  # __("Open", null, "Conversation status")


def test_extraction_reads_workspaces_and_number_cards(source):
	assert workspace_files() and number_card_files(), "no workspace or number card JSON found"
	for p in workspace_files():
		doc = json.loads(p.read_text(encoding="utf-8"))
		assert doc["label"] in source
		for row in doc.get("shortcuts", []) + doc.get("number_cards", []) + doc.get("quick_lists", []):
			assert row["label"] in source, row["label"]
	for p in number_card_files():
		assert json.loads(p.read_text(encoding="utf-8"))["label"] in source


def test_headers(pot, po):
	for name, entries in (("main.pot", pot), ("es.po", po)):
		h = header(entries)
		assert h.get("Content-Type") == "text/plain; charset=UTF-8", f"{name}: Content-Type"
		assert h.get("Plural-Forms") == "nplurals=2; plural=(n != 1);", f"{name}: Plural-Forms"
	assert header(po).get("Language") == "es", "es.po: the header must say Language: es"


@pytest.mark.parametrize("name", ["main.pot", "es.po"])
def test_sorted_unique_referenced(name, pot, po):
	msgs = messages(pot if name == "main.pot" else po)
	ids = [e["msgid"] for e in msgs]
	dupes = [k for k, v in Counter(ids).items() if v > 1]
	assert not dupes, f"{name}: duplicate msgids:\n{listing(dupes)}"
	assert ids == sorted(ids), f"{name}: entries must be sorted by msgid"
	unreferenced = [e["msgid"] for e in msgs if not e["refs"]]
	assert not unreferenced, f"{name}: entries without a '#: path' reference:\n{listing(unreferenced)}"
	fuzzy = [e["msgid"] for e in msgs if "fuzzy" in e["flags"]]
	assert not fuzzy, f"{name}: fuzzy entries (review, then drop the flag):\n{listing(fuzzy)}"


def report(name: str, sections: list[tuple[str, list[str] | set[str]]]) -> str:
	return "\n".join(
		f"{name} {title} ({len(items)}):\n{listing(items)}" for title, items in sections if items
	)


def test_pot_matches_source(source, pot):
	ids = {e["msgid"] for e in messages(pot)}
	problems = report(
		"main.pot",
		[
			("lacks these source strings", set(source) - ids),
			("has these strings that are no longer in the source", ids - set(source)),
			("is a template, but msgstr is filled for", [e["msgid"] for e in messages(pot) if e["msgstr"]]),
		],
	)
	assert not problems, problems


def test_es_po_complete(source, po):
	translated = {e["msgid"] for e in messages(po) if e["msgstr"].strip()}
	problems = report(
		"es.po",
		[
			("lacks a Spanish translation for", set(source) - translated),
			(
				"has these strings that are no longer in the source",
				{e["msgid"] for e in messages(po)} - set(source),
			),
		],
	)
	assert not problems, problems


def test_es_po_placeholders(po):
	wrong = [
		f"{e['msgid']!r} -> {e['msgstr']!r}"
		for e in messages(po)
		if e["msgstr"]
		and Counter(PLACEHOLDER.findall(e["msgid"])) != Counter(PLACEHOLDER.findall(e["msgstr"]))
	]
	assert not wrong, "es.po translations must keep the msgid's placeholders:\n" + "\n".join(wrong)


def test_translate_calls_are_extractable():
	"""A string the extractor cannot see never gets translated: flag f-strings, concatenation, quoting."""
	problems = []
	for p in py_files():
		for node in ast.walk(ast.parse(p.read_text(encoding="utf-8"))):
			if not is_translate_call(node):
				continue
			arg = node.args[0]
			if isinstance(arg, ast.JoinedStr):
				problems.append(
					f"{rel(p)}:{node.lineno}: f-string inside _(); use _('... {{0}}').format(...)"
				)
			elif isinstance(arg, ast.BinOp) and any(
				isinstance(x, ast.Constant) and isinstance(x.value, str) for x in (arg.left, arg.right)
			):
				problems.append(f"{rel(p)}:{node.lineno}: string built with an operator inside _()")
			elif (
				isinstance(arg, ast.Call)
				and isinstance(arg.func, ast.Attribute)
				and isinstance(arg.func.value, ast.Constant)
			):
				problems.append(
					f"{rel(p)}:{node.lineno}: .{arg.func.attr}() applied before _(); apply it after"
				)
	for p in js_files():
		text = p.read_text(encoding="utf-8")
		for m in JS_NON_DOUBLE_QUOTED.finditer(text):
			line = text.count("\n", 0, m.start()) + 1
			problems.append(
				f"{rel(p)}:{line}: __() with a single-quoted or template string; use double quotes"
			)
		for m in JS_CALL.finditer(text):
			if m.group(2) and m.group(2).strip() not in (",", ")"):
				line = text.count("\n", 0, m.start()) + 1
				problems.append(f"{rel(p)}:{line}: __() argument is not a single string literal")
			elif ", null," in text[m.end(1) : m.end(1) + 12] and not JS_CONTEXT.match(text, m.end(1) + 1):
				line = text.count("\n", 0, m.start()) + 1
				problems.append(f"{rel(p)}:{line}: __()'s context is not a single string literal")
	assert not problems, "translatable strings the extractor cannot see:\n" + "\n".join(problems)
