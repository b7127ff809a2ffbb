"""Opt-out words in several languages and cases, placeholders, campaign recipient lists and ban watch:
the frappe-free pieces of sending carefully."""

import pytest

from whatsapp_crm.sending import banwatch, errors, optout, recipients, templates
from whatsapp_crm.sending.recipients import Entry


@pytest.mark.parametrize(
	("text", "lang"),
	[
		("STOP", "en"),
		("stop", "en"),
		("Stop.", "en"),
		("  STOP please ", "en"),
		("Unsubscribe!!", "en"),
		("BAJA", "es"),
		("baja por favor", "es"),
		("Baja 🙏", "es"),
		("cancelar", "es"),
		("No más mensajes", "es"),
		("Darme de baja, gracias", "es"),
		("ARRÊT", "fr"),
		("Stopp", "de"),
		("parar", "pt"),
	],
)
def test_opt_out_words_match_in_any_case_accent_and_politeness(text, lang):
	found = optout.match(text)
	assert found is not None and found[0] == lang


@pytest.mark.parametrize(
	"text",
	[
		"",
		"don't stop the delivery",
		"quiero dar de baja mi pedido 1234 y pedir otro",
		"stopping by tomorrow",
		"bajamos mañana",
		"STOP " * 60,
		"hola",
	],
)
def test_ordinary_messages_are_not_opt_outs(text):
	assert optout.match(text) is None


def test_the_settings_words_replace_the_defaults_and_keep_their_language():
	words = optout.parse_words("es: BASTA\n# a comment\n\nNO GRACIAS\nxx-not-a-lang: HALT")
	assert words == {"es": ("BASTA",), "": ("NO GRACIAS", "xx-not-a-lang: HALT")}
	assert optout.match("basta!", words) == ("es", "BASTA")
	assert optout.match("STOP", words) is None
	assert optout.parse_words("  \n# nothing\n") == dict(optout.DEFAULT_WORDS)


def test_placeholders_are_checked_and_rendered_as_plain_text():
	text = "Hola {first_name}, soy {lead_owner}. {{no es un campo}}"
	assert templates.placeholders_in(text) == ["first_name", "lead_owner"]
	assert templates.checked(text, {"first_name", "lead_owner"}) == text
	with pytest.raises(errors.UnknownPlaceholder) as e:
		templates.checked("Hi {frist_name}", {"first_name"})
	assert e.value.context["placeholder"] == "frist_name" and e.value.code == "UNKNOWN_PLACEHOLDER"
	shown = templates.render(text, {"first_name": "<b>Ana</b>", "lead_owner": None})
	assert shown == "Hola <b>Ana</b>, soy . {no es un campo}"  # markup stays text; a missing value is empty
	with pytest.raises(errors.TextTooLong):
		templates.checked("x" * 5000, set())


def test_a_pasted_list_gives_each_number_once_and_says_why_the_rest_are_left_out():
	text = "\n".join(["+34 600 111 222"] * 5000) + "\n600111333; 0034600111444\ncall me, 12\n+34600111555"
	found = recipients.resolve(
		recipients.pasted(text),
		"ES",
		opted_out=frozenset({"34600111444"}),
		blocked=frozenset({"34600111555"}),
	)
	kept = [r.digits for r in found if r.skip is None]
	assert kept == ["34600111222", "34600111333"]  # the local number read in Spain
	reasons = [r.skip for r in found if r.skip]
	assert reasons.count(recipients.DUPLICATE) == 4999
	assert reasons[-4:] == [
		recipients.OPTED_OUT,
		recipients.INVALID_NUMBER,
		recipients.INVALID_NUMBER,
		recipients.BLOCKED,
	]
	assert recipients.resolve([Entry(None, "CRM Lead", "L-1")], "ES")[0].skip == recipients.NO_NUMBER


def test_numbers_are_read_in_the_sites_country():
	assert recipients.read_number("612 345 678", "ES") == "34612345678"
	assert recipients.read_number("(55) 1234 5678", "MX") == "525512345678"
	assert recipients.read_number("<script>1</script>", "ES") is None


@pytest.mark.parametrize(
	("signals", "finding"),
	[
		(banwatch.Signals(sent_last_hour=40, logged_out=True), banwatch.LOGGED_OUT_AFTER_BURST),
		(
			banwatch.Signals(sent_last_hour=3, logged_out=True),
			None,
		),  # a quiet number logged out: the user did
		(banwatch.Signals(recent_sent=40, recent_delivered=10), banwatch.DELIVERY_DROP),
		(
			banwatch.Signals(recent_sent=40, recent_delivered=18, before_sent=40, before_delivered=39),
			banwatch.DELIVERY_DROP,
		),
		(banwatch.Signals(recent_sent=40, recent_delivered=36, before_sent=40, before_delivered=39), None),
		(banwatch.Signals(recent_sent=5, recent_delivered=0), None),  # too few to say
		(banwatch.Signals(checked=50, not_on_whatsapp=20), banwatch.MANY_NOT_ON_WHATSAPP),
		(banwatch.Signals(checked=50, not_on_whatsapp=5), None),
	],
)
def test_ban_watch_findings(signals, finding):
	assert banwatch.assess(signals) == finding
