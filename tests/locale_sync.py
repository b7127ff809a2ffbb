"""Rewrite locale/main.pot and locale/es.po from the source, keeping every existing translation.

    .venv/bin/python -m tests.locale_sync                  # list what es.po lacks, change nothing
    .venv/bin/python -m tests.locale_sync new.json         # write both files; new.json: {"msgid": "msgstr"}

The strings are found exactly as tests/test_translations.py finds them, so after a run with every missing
translation supplied, that test passes. Strings no longer in the source are dropped from both files.
"""

from __future__ import annotations

import json
import sys

from tests.test_translations import (
	CONTEXT_SEP,
	PO_PATH,
	POT_PATH,
	extract_all,
	header,
	messages,
	parse_po,
)


def quote(text: str) -> str:
	return (
		'"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\t", "\\t") + '"'
	)


def notes_of(path) -> dict[str, list[str]]:
	"""The extracted comments (``#.``) above each msgid, kept for translators."""
	notes: dict[str, list[str]] = {}
	pending: list[str] = []
	for line in path.read_text(encoding="utf-8").splitlines():
		if line.startswith("#."):
			pending.append(line)
		elif line.startswith("msgid ") and pending:
			notes[json.loads(line[6:])] = pending
			pending = []
		elif not line.strip():
			pending = []
	return notes


def render(head: str, entries: list[tuple[str, list[str], str]], notes: dict[str, list[str]]) -> str:
	out = [head.rstrip("\n"), ""]
	for msgid, refs, msgstr in entries:
		out += notes.get(msgid, [])
		out += [f"#: {ref}" for ref in refs]
		context, _, text = msgid.rpartition(CONTEXT_SEP)
		out += [f"msgctxt {quote(context)}"] if context else []
		out += [f"msgid {quote(text)}", f"msgstr {quote(msgstr)}", ""]
	return "\n".join(out)


def head_of(path) -> str:
	"""The file's comments and header entry, as written."""
	lines = path.read_text(encoding="utf-8").splitlines()
	end = next(i for i, line in enumerate(lines) if i > 0 and not line.strip())
	return "\n".join(lines[:end]) + "\n"


def main(argv: list[str]) -> int:
	source = extract_all()
	known = {e["msgid"]: e["msgstr"] for e in messages(parse_po(PO_PATH)) if e["msgstr"].strip()}
	new = json.loads(open(argv[0], encoding="utf-8").read()) if argv else {}
	missing = sorted(s for s in source if s not in known and s not in new)
	if not argv:
		print(json.dumps(dict.fromkeys(missing, ""), ensure_ascii=False, indent=1))
		return 1 if missing else 0
	if missing:
		print("still without a translation:\n" + "\n".join(f"  {s!r}" for s in missing), file=sys.stderr)
		return 1
	header(parse_po(POT_PATH))  # both files must keep a valid header
	ids = sorted(source)
	notes = notes_of(PO_PATH)
	POT_PATH.write_text(render(head_of(POT_PATH), [(i, source[i], "") for i in ids], notes), encoding="utf-8")
	PO_PATH.write_text(
		render(head_of(PO_PATH), [(i, source[i], new.get(i) or known[i]) for i in ids], notes),
		encoding="utf-8",
	)
	print(f"wrote {len(ids)} strings to {POT_PATH.name} and {PO_PATH.name}")
	return 0


if __name__ == "__main__":
	raise SystemExit(main(sys.argv[1:]))
