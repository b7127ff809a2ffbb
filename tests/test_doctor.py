"""whatsapp-crm doctor and Test connection: a named gateway type is checked, not trusted, and each failure is
named for what it is (a stuck gateway is not a key problem; https on a plain-HTTP port is not a certificate)."""

from __future__ import annotations

import pytest

from whatsapp_crm.gateway import errors, texts
from whatsapp_crm.gateway.adapters import make_client
from whatsapp_crm.gateway.client import Timeouts
from whatsapp_crm.gateway.doctor import FAIL, diagnose
from whatsapp_crm.simulator import make_simulator
from whatsapp_crm.terminal.cli import EXIT_GATEWAY, EXIT_USAGE, doctor_exit_code

from .conftest import SENTINEL_KEY

TIMEOUTS = Timeouts(connect=1.0, read=2.0)
LABELS = {"baileys": "Baileys REST", "evolution": "Evolution API", "waha": "WAHA"}


def failed(report):
	return next(c for c in report.checks if c.result == FAIL)


@pytest.mark.parametrize("gateway_type", ["evolution", "waha", "baileys"])
def test_a_file_server_never_passes_as_the_named_type(file_server, gateway_type):
	report = diagnose(file_server, "any-key", gateway_type, TIMEOUTS, timeout=2)
	check = failed(report)
	assert not report.ok and check.name == "type"
	assert (check.template, check.args) == (texts.DOCTOR_NOT_THAT_TYPE, [LABELS[gateway_type]])
	assert doctor_exit_code(report) == EXIT_USAGE  # the URL or the type given is wrong


@pytest.mark.parametrize(("running", "named"), [("baileys", "evolution"), ("evolution", "waha")])
def test_another_types_gateway_is_named_for_what_it_is(running, named):
	with make_simulator(running, api_key=SENTINEL_KEY, start=True) as sim:
		report = diagnose(sim.url, SENTINEL_KEY, named, TIMEOUTS, timeout=2)
	check = failed(report)
	assert (check.name, check.template) == ("type", texts.DOCTOR_OTHER_TYPE)
	assert check.args == [LABELS[running], LABELS[named]]
	assert doctor_exit_code(report) == EXIT_USAGE


def test_the_right_named_type_still_passes():
	with make_simulator("waha", api_key=SENTINEL_KEY, start=True) as sim:
		assert diagnose(sim.url, SENTINEL_KEY, "waha", TIMEOUTS, timeout=2).ok


def test_a_hanging_gateway_is_a_gateway_failure_not_a_key_problem():
	with make_simulator("baileys", api_key=SENTINEL_KEY, scenario="hang", start=True) as sim:
		report = diagnose(sim.url, SENTINEL_KEY, "auto", Timeouts(connect=1.0, read=1.0), timeout=1)
	check = failed(report)
	assert [c.name for c in report.checks[:2]] == ["reachable", "type"]
	assert (check.template, check.code) == (texts.DOCTOR_STALLS, errors.TIMEOUT)
	assert doctor_exit_code(report) == EXIT_GATEWAY  # exit 3, as the README says for a broken gateway


def test_https_on_a_plain_http_port_is_not_blamed_on_the_certificate(file_server):
	url = file_server.replace("http://", "https://")
	report = diagnose(url, "k", "auto", TIMEOUTS, timeout=2)
	check = failed(report)
	assert (check.name, check.template) == ("tls", texts.DOCTOR_TLS_PLAIN_HTTP)
	assert "certificate" not in check.text
	with make_client("baileys", url, "k", TIMEOUTS) as client, pytest.raises(errors.Unreachable) as e:
		client.get_status("s1")
	assert e.value.reason == errors.PLAIN_HTTP
	assert doctor_exit_code(report) == EXIT_USAGE


@pytest.mark.parametrize("gateway_type", ["evolution", "waha", "baileys"])
def test_a_web_page_404_is_not_a_lost_session(file_server, gateway_type):
	"""A file server's "404 Not Found" page says nothing about a session: it is the wrong URL."""
	with make_client(gateway_type, file_server, "k", TIMEOUTS) as client:
		with pytest.raises(errors.GatewayError) as e:
			client.get_status("s1")
	assert e.value.code == errors.BAD_RESPONSE and e.value.http_status == 404
