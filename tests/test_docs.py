"""The docs stay true to the tree: README.md and docs/*.md, read as plain text (no frappe).

- Every relative link or image in README.md and docs/*.md points at a file that exists, and a ``#fragment``
  that points into a markdown file (the same one included) names one of its anchors: a heading, slugged by
  GitHub's rules (lower case; letters, digits, marks, ``_``, ``-`` and spaces kept, spaces to ``-``, a
  repeated slug gets ``-1``, ``-2``...), or an explicit ``<a name="...">`` / ``<a id="...">``. Links inside
  code (fenced blocks, inline spans) are not links.
- The README's "## Layout" section (its first fenced block; one entry per line, the path first) lists every
  package of the app and names nothing that does not exist. A package of the app is the app folder
  ``whatsapp_crm/`` itself and every folder under it that holds a ``.py`` file, except what Frappe generates
  inside a module: folders under a ``doctype``, ``page``, ``report``, ``workspace``, ``number_card``,
  ``dashboard_chart``, ``print_format`` or ``web_form`` folder (and those folders themselves), and
  ``__pycache__``. ``tests/``, ``benchmarks/`` and ``docs/`` must be listed too.
- The README is at most 260 lines.
- Nothing under ``whatsapp_crm/`` cites the founders' DESIGN.md (or a bare section sign and number): the
  docs/ files are what code points at. In the app, the tests and the benchmarks, every ``docs/NAME.md``
  named exists, and a pointer written as ``docs/NAME.md, 'Heading'`` names one of that file's headings.
"""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
APP = ROOT / "whatsapp_crm"
README = ROOT / "README.md"
DOCS = ROOT / "docs"
MAX_README_LINES = 260
FRAPPE_INTERNALS = {
	"doctype",
	"page",
	"report",
	"workspace",
	"number_card",
	"dashboard_chart",
	"print_format",
	"web_form",
	"__pycache__",
}
ALSO_LISTED = ("tests/", "benchmarks/", "docs/")

FENCE = re.compile(r"^\s*(```|~~~)")
INLINE_CODE = re.compile(r"(`+)(.+?)\1")
LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
HTML_REF = re.compile(r"<(?:img|a)\b[^>]*?\b(?:src|href)=\"([^\"]+)\"", re.IGNORECASE)
HEADING = re.compile(r"^ {0,3}(#{1,6})\s+(.*?)\s*#*\s*$")
HTML_ANCHOR = re.compile(r"<a\s+(?:name|id)=\"([^\"]+)\"", re.IGNORECASE)
SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")
MENTION = re.compile(r"(?<![\w/.-])docs/([\w.-]+\.md)")
POINTER = re.compile(r"docs/([\w.-]+\.md),\s*[\"'\u201c\u2018]([^\"'\u201d\u2019]+)[\"'\u201d\u2019]")
DESIGN_CITATION = re.compile(r"DESIGN\.md|DESIGN\s*§|§\s*\d")


def markdown_files() -> list[Path]:
	return [README, *sorted(DOCS.glob("*.md"))]


def prose_lines(text: str) -> list[str]:
	"""The lines outside fenced code blocks, with inline code spans blanked out."""
	lines, fenced = [], False
	for line in text.splitlines():
		if FENCE.match(line):
			fenced = not fenced
			continue
		if not fenced:
			lines.append(INLINE_CODE.sub("", line))
	return lines


def slug(heading: str) -> str:
	"""GitHub's anchor for a heading's text: markup removed, then github-slugger's rule."""
	text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # links and images: their text
	text = re.sub(r"<[^>]+>", "", text).replace("`", "")
	kept = (
		c
		for c in text.strip().lower()
		if c in " -_" or unicodedata.category(c)[0] in "LNM" or unicodedata.category(c) == "Pc"
	)
	return "".join(kept).replace(" ", "-")


def headings(path: Path) -> list[str]:
	found, fenced = [], False
	for line in path.read_text(encoding="utf-8").splitlines():
		if FENCE.match(line):
			fenced = not fenced
			continue
		m = None if fenced else HEADING.match(line)
		if m:
			found.append(m.group(2))
	return found


def anchors(path: Path) -> set[str]:
	seen: dict[str, int] = {}
	result = set()
	for text in headings(path):
		base = slug(text)
		n = seen.get(base, 0)
		seen[base] = n + 1
		result.add(base if n == 0 else f"{base}-{n}")
	result.update(HTML_ANCHOR.findall(path.read_text(encoding="utf-8")))
	return result


def links(path: Path) -> list[str]:
	found = []
	for line in prose_lines(path.read_text(encoding="utf-8")):
		found += LINK.findall(line) + HTML_REF.findall(line)
	return found


def broken_links(path: Path) -> list[str]:
	problems = []
	for target in links(path):
		if SCHEME.match(target) or target.startswith("//"):
			continue  # the web: not checked here
		file_part, _, fragment = target.partition("#")
		dest = (path.parent / file_part).resolve() if file_part else path
		if not dest.exists():
			problems.append(f"{target}: no such file")
		elif fragment and dest.suffix == ".md" and fragment not in anchors(dest):
			problems.append(f"{target}: no heading or anchor #{fragment} in {dest.name}")
	return problems


@pytest.mark.parametrize("path", markdown_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_and_images_resolve(path: Path) -> None:
	assert links(path) or path != README, "no link found: the parser would pass vacuously"
	assert broken_links(path) == []


def test_slugs_follow_github() -> None:
	assert slug("4. QR acquisition") == "4-qr-acquisition"
	assert (
		slug("Install with frappe_whatsapp and Frappe CRM") == "install-with-frappe_whatsapp-and-frappe-crm"
	)
	assert slug("Numbers (`make bench`)") == "numbers-make-bench"
	assert slug("Messages: Frappe CRM's WhatsApp tab") == "messages-frappe-crms-whatsapp-tab"
	assert slug("El diálogo — QR") == "el-diálogo--qr"


def layout_entries() -> list[str]:
	text = README.read_text(encoding="utf-8")
	assert "\n## Layout\n" in text, "the README has no '## Layout' section"
	section = text.split("\n## Layout\n", 1)[1].split("\n## ", 1)[0]
	block = section.split("```", 2)
	assert len(block) == 3, "the Layout section has no fenced block"
	return [line.split()[0] for line in block[1].splitlines() if line.strip() and not line[0].isspace()]


def app_packages() -> set[str]:
	found = {"whatsapp_crm/"}
	for py in APP.rglob("*.py"):
		folder = py.parent.relative_to(ROOT)
		if not FRAPPE_INTERNALS & set(folder.parts):
			found.add(folder.as_posix() + "/")
	return found


def test_layout_lists_every_package_of_the_app() -> None:
	listed = {e if e.endswith("/") or "." in Path(e).name else e + "/" for e in layout_entries()}
	packages = app_packages()
	assert len(packages) > 8, "the walk found too few packages: the check would pass vacuously"
	assert sorted(packages - listed) == [], "packages missing from the README's Layout"
	assert sorted(set(ALSO_LISTED) - listed) == []


def test_layout_names_only_what_exists() -> None:
	missing = []
	for entry in layout_entries():
		path = ROOT / entry
		if not (path.is_dir() if entry.endswith("/") else path.exists()):
			missing.append(entry)
	assert missing == []


def test_readme_is_short() -> None:
	lines = len(README.read_text(encoding="utf-8").splitlines())
	assert lines <= MAX_README_LINES, f"README.md has {lines} lines; the detail belongs in docs/"


def text_files(folder: Path):
	for path in folder.rglob("*"):
		if path.is_file() and "__pycache__" not in path.parts and path.suffix not in (".png", ".pyc"):
			yield path, path.read_text(encoding="utf-8", errors="ignore")


def test_the_app_cites_docs_not_design() -> None:
	offenders = [
		f"{path.relative_to(ROOT)}:{n}"
		for path, text in text_files(APP)
		for n, line in enumerate(text.splitlines(), 1)
		if DESIGN_CITATION.search(line)
	]
	assert offenders == []


def test_pointers_into_docs_name_a_heading() -> None:
	this = Path(__file__).resolve()
	pointers = [
		(path, name, title)
		for folder in (APP, ROOT / "tests", ROOT / "benchmarks")
		for path, text in text_files(folder)
		if path.resolve() != this
		for name, title in POINTER.findall(" ".join(text.split()))
	]
	assert pointers, "no pointer found: the check would pass vacuously"
	wrong = [
		f"{path.relative_to(ROOT)}: docs/{name}"
		for folder in (APP, ROOT / "tests", ROOT / "benchmarks")
		for path, text in text_files(folder)
		if path.resolve() != this
		for name in MENTION.findall(text)
		if not (DOCS / name).exists()
	]
	for path, name, title in pointers:
		doc = DOCS / name
		found = doc.exists() and any(title.lower() in h.lower() for h in headings(doc))
		if not found:
			wrong.append(f"{path.relative_to(ROOT)}: docs/{name}, '{title}'")
	assert wrong == []
