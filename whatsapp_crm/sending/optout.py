"""Opt-out words: a customer who writes one of them, and little else, wants no more campaign messages from
that number. Matching is strict on purpose: "stop" alone opts out, "don't stop the delivery" does not."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping

# Defaults by language (ISO code); the settings may replace them. The confirmation is sent in the language
# of the word that matched.
DEFAULT_WORDS: Mapping[str, tuple[str, ...]] = {
	"en": ("STOP", "UNSUBSCRIBE", "STOP ALL", "OPT OUT", "OPT-OUT", "REMOVE ME"),
	"es": ("BAJA", "CANCELAR", "DARME DE BAJA", "DAR DE BAJA", "NO MAS MENSAJES", "NO QUIERO MAS MENSAJES"),
	"pt": ("PARAR", "SAIR", "DESCADASTRAR", "CANCELAR INSCRICAO"),
	"fr": ("ARRET", "DESABONNER", "DESINSCRIRE"),
	"de": ("STOPP", "ABMELDEN"),
	"it": ("CANCELLAMI", "DISISCRIVIMI"),
}
# Polite words around an opt-out word that do not change what it means.
FILLERS = frozenset(
	"please pls plz thanks thank you thx por favor porfa gracias ya now ahora merci bitte grazie obrigado".split()
)
MAX_TEXT = 200  # a longer message is a conversation, not an opt-out


def normalise(text: str) -> str:
	"""Lower case, no accents, punctuation and emoji as spaces, single spaces."""
	folded = unicodedata.normalize("NFKD", text or "").casefold()
	plain = "".join(c for c in folded if not unicodedata.combining(c))
	return " ".join(re.sub(r"[^\w]+", " ", plain).replace("_", " ").split())


def parse_words(text: str | None) -> dict[str, tuple[str, ...]]:
	"""The settings' list: one word or phrase a line, optionally ``es: BAJA``; blank lines and ``#`` comments
	skipped. Empty: the defaults."""
	found: dict[str, list[str]] = {}
	for raw in (text or "").splitlines():
		line = raw.split("#", 1)[0].strip()
		if not line:
			continue
		lang, sep, word = line.partition(":")
		if not sep or not re.fullmatch(r"[A-Za-z]{2}(-[A-Za-z]{2})?", lang.strip()):
			lang, word = "", line
		if normalise(word):
			found.setdefault(lang.strip().lower(), []).append(word.strip())
	return {k: tuple(v) for k, v in found.items()} or dict(DEFAULT_WORDS)


def match(text: str | None, words: Mapping[str, Iterable[str]] = DEFAULT_WORDS) -> tuple[str, str] | None:
	"""(language, word) when the message is an opt-out: one of the words or phrases, with at most polite
	words around it. None otherwise."""
	if not text or len(text) > MAX_TEXT:
		return None
	said = normalise(text)
	if not said:
		return None
	for lang, listed in words.items():
		for word in listed:
			wanted = normalise(word)
			if not wanted:
				continue
			if said == wanted:
				return lang, word
			rest = f" {said} ".replace(f" {wanted} ", " ", 1)
			if rest != f" {said} " and _only_fillers(rest):
				return lang, word
	return None


def _only_fillers(rest: str) -> bool:
	text = f" {' '.join(rest.split())} "
	for filler in sorted(FILLERS, key=len, reverse=True):
		text = text.replace(f" {filler} ", " ")
	return not text.strip()
