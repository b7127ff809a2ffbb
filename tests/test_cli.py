"""The whatsapp-crm command: exit codes, --json payloads, the demo, and no key in any output."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from whatsapp_crm.simulator import BaileysSimulator, SessionOptions, make_simulator
from whatsapp_crm.terminal import cli

from .conftest import SENTINEL_KEY


@pytest.fixture
def gw():
	with BaileysSimulator(api_key=SENTINEL_KEY, scenario="qr_now") as s:
		yield s


def run(capsys, *argv):
	code = cli.main(list(argv))
	out = capsys.readouterr()
	assert SENTINEL_KEY not in out.out + out.err
	return code, out.out, out.err


def test_connect_json_prints_the_payload(gw, capsys):
	code, out, _ = run(
		capsys, "connect", "--url", gw.url, "--session", "c1", "--api-key", SENTINEL_KEY, "--json"
	)
	p = json.loads(out)
	assert code == 0
	assert (p["status"], p["qr_available"], p["session_id"]) == ("QR Ready", True, "c1")
	assert p["message"].startswith("Scan this QR code")


def test_key_from_environment(gw, capsys, monkeypatch):
	monkeypatch.setenv("WHATSAPP_CRM_API_KEY", SENTINEL_KEY)
	code, out, _ = run(capsys, "status", "--url", gw.url, "--session", "nope", "--json")
	assert code == 3
	assert json.loads(out)["qr_error"] == "SESSION_NOT_FOUND"


def test_connect_without_json_follows_until_linked(gw, capsys):
	gw.set_scenario("c2", "linked")
	code, out, _ = run(
		capsys, "connect", "--url", gw.url, "--session", "c2", "--api-key", SENTINEL_KEY, "--wait", "30"
	)
	assert code == 0
	assert "█" in out and "WhatsApp is linked to 34600111222." in out


def test_rejected_key_is_exit_2(gw, capsys):
	code, _, err = run(capsys, "connect", "--url", gw.url, "--session", "c3", "--api-key", "wrong")
	assert code == 2 and "refused the API key" in err


def test_missing_key_and_bad_url_are_exit_2(gw, capsys, monkeypatch):
	monkeypatch.delenv("WHATSAPP_CRM_API_KEY", raising=False)
	assert run(capsys, "connect", "--url", gw.url, "--session", "c4")[0] == 2
	code, out, _ = run(capsys, "status", "--url", "ftp://x", "--session", "c4", "--api-key", "k", "--json")
	assert code == 2 and json.loads(out)["qr_error"] == "NOT_CONFIGURED"


def test_bad_session_id_is_exit_2(gw, capsys):
	code, _, err = run(capsys, "connect", "--url", gw.url, "--session", "a/b", "--api-key", SENTINEL_KEY)
	assert code == 2 and "letters, digits" in err


def test_gateway_failure_is_exit_3(gw, capsys):
	gw.set_scenario("c5", "not_json")
	code, out, _ = run(
		capsys,
		"connect",
		"--url",
		gw.url,
		"--session",
		"c5",
		"--api-key",
		SENTINEL_KEY,
		"--json",
		"--deadline",
		"3",
	)
	assert code == 3 and json.loads(out)["qr_error"] == "BAD_RESPONSE"


def test_unreachable_is_exit_3(capsys):
	code, _, err = run(capsys, "connect", "--url", "http://127.0.0.1:9", "--session", "c6", "--api-key", "k")
	assert code == 3 and "Cannot reach" in err


def test_no_qr_is_exit_4(gw, capsys):
	gw.set_scenario("c7", "qr_after")
	code, out, _ = run(
		capsys,
		"connect",
		"--url",
		gw.url,
		"--session",
		"c7",
		"--api-key",
		SENTINEL_KEY,
		"--json",
		"--deadline",
		"1",
	)
	assert code == 4 and json.loads(out)["keep_polling"] is True


def test_status_human_output(gw, capsys):
	gw.set_scenario("c8", "qr_now")
	run(capsys, "connect", "--url", gw.url, "--session", "c8", "--api-key", SENTINEL_KEY, "--json")
	code, out, _ = run(capsys, "status", "--url", gw.url, "--session", "c8", "--api-key", SENTINEL_KEY)
	assert code == 0 and "gateway says: qr, has QR: True" in out


def test_bad_usage_is_exit_2(capsys):
	with pytest.raises(SystemExit) as e:
		cli.main(["connect", "--url", "http://x"])
	assert e.value.code == 2
	assert cli.main(["status", "--url", "http://x", "--session", "a", "--deadline", "0"]) == 2


def test_demo_end_to_end_as_installed_command():
	"""The README's demo, run as a separate process: draws a QR, links, then a message goes out, its receipts
	come back and the customer answers, through the simulator's webhooks; then a catch-up after an outage."""
	proc = subprocess.run(
		[sys.executable, "-m", "whatsapp_crm.terminal.cli", "demo", "--scan-after", "1"],
		capture_output=True,
		text=True,
		timeout=120,
	)
	assert proc.returncode == 0, proc.stderr
	assert "QR_GENERATION_ERROR" in proc.stdout and "█" in proc.stdout
	lines = proc.stdout.rstrip().splitlines()
	assert any(line.startswith("WhatsApp is linked") for line in lines)
	assert "  receipts: sent -> delivered -> read" in lines
	assert "  +34600999888 (Marta): ¡Hola Ana! Quiero el presupuesto." in lines
	# Then the receiver is down while the customer writes: the catch-up brings both messages back, once.
	assert "  webhooks the gateway could not deliver: 2" in lines
	assert [line for line in lines if line.startswith("  recovered:")] == [
		"  recovered: +34600999888 (Marta): ¿Seguís ahí?",
		"  recovered: +34600999888 (Marta): Os llamo mañana.",
	]
	assert lines[-2] == "  2 messages recovered, 2 already stored, 1 page(s) read"


@pytest.mark.parametrize("gateway_type", ["baileys", "evolution", "waha"])
def test_sync_reads_what_a_catch_up_would_recover(gateway_type, capsys):
	extra = {"qr_route_wait_s": 0.2} if gateway_type == "waha" else {}
	with make_simulator(
		gateway_type, api_key=SENTINEL_KEY, scenario=SessionOptions(qr_after_s=0), **extra
	) as sim:
		base = [
			"--url",
			sim.url,
			"--session",
			"sync1",
			"--api-key",
			SENTINEL_KEY,
			"--gateway-type",
			gateway_type,
		]
		assert run(capsys, "connect", *base, "--json")[0] == 0
		sim.scan("sync1", "34911222333")
		sim.set_receiver_down(True)
		sim.inbound("sync1", "34600999888", "<script>alert(1)</script> missed")
		code, out, _ = run(capsys, "sync", *base, "--json")
		assert code == 0
		data = json.loads(out)
		assert data["complete"] and [m["text"] for m in data["messages"]] == [
			"<script>alert(1)</script> missed"
		]
		with pytest.raises(SystemExit) as refused:  # argparse's own usage error
			run(capsys, "sync", *base, "--since", "not-a-date")
		assert refused.value.code == 2
		assert run(capsys, "sync", *base, "--since", "2999-01-01")[0] == 2


def test_sync_on_waha_2024_says_the_route_is_missing(capsys):
	with make_waha_2024() as sim:
		code, _, err = run(
			capsys,
			"sync",
			"--url",
			sim.url,
			"--session",
			"default",
			"--api-key",
			"x",
			"--gateway-type",
			"waha",
		)
	assert code == cli.EXIT_GATEWAY and "WAHA 2024.11 or later" in err


def make_waha_2024():
	return make_simulator("waha", api_key=SENTINEL_KEY, core_2024=True)


def test_gateway_by_name_needs_a_bench(gw, capsys):
	assert cli.main(["status", "--gateway", "main", "--session", "s1"]) == cli.EXIT_USAGE
	assert "inside a bench" in capsys.readouterr().err
	with pytest.raises(SystemExit):  # one of --url and --gateway, not both
		cli.main(["status", "--gateway", "main", "--url", gw.url, "--session", "s1"])


def test_gateway_by_name_uses_what_the_bench_resolves(gw, capsys):
	asked = []

	def resolve(name: str) -> tuple[str, str, str]:
		asked.append(name)
		if name != "main":
			raise KeyError(f"no WhatsApp Gateway named {name!r} on this site")
		return gw.url, SENTINEL_KEY, "baileys"

	code = cli.main(
		["connect", "--gateway", "main", "--session", "by-name", "--json"], resolve_gateway=resolve
	)
	out = capsys.readouterr().out
	assert code == 0 and json.loads(out)["status"] == "QR Ready"
	assert gw.count(session_id="by-name") > 0  # it went to the resolved gateway
	assert cli.main(["status", "--gateway", "nope", "--session", "x"], resolve_gateway=resolve) == 2
	assert "no WhatsApp Gateway named 'nope'" in capsys.readouterr().err
	assert asked == ["main", "nope"]
	assert SENTINEL_KEY not in out


def test_simulate_serves_until_stopped():
	"""`whatsapp-crm simulate` (what the e2e scripts start) answers, then ends cleanly on SIGTERM."""
	import re
	import signal

	import requests

	proc = subprocess.Popen(
		[sys.executable, "-m", "whatsapp_crm.terminal.cli", "simulate", "--port", "0", "--api-key", "k"],
		stdout=subprocess.PIPE,
		stderr=subprocess.PIPE,
		text=True,
	)
	try:
		line = proc.stdout.readline()
		m = re.search(r"on (http://127\.0\.0\.1:\d+)", line)
		assert m, (line, proc.stderr.read() if proc.poll() is not None else "")
		assert (
			requests.get(m.group(1) + "/api/health", headers={"X-API-Key": "k"}, timeout=5).status_code == 200
		)
	finally:
		proc.send_signal(signal.SIGTERM)
		proc.communicate(timeout=10)
	assert proc.returncode == 0


# -- the terminal tells the truth, in the terminal's words ------------------------------------------------------


def test_status_says_unknown_when_nothing_answers(capsys):
	code, out, _ = run(capsys, "status", "--url", "http://127.0.0.1:9", "--session", "s1", "--api-key", "k")
	assert code == cli.EXIT_GATEWAY
	assert out.startswith("status: Unknown") and "Connecting" not in out
	code, out, _ = run(
		capsys, "status", "--url", "http://127.0.0.1:9", "--session", "s1", "--api-key", "k", "--json"
	)
	assert json.loads(out)["status"] == "Unknown"


def test_one_shot_commands_name_flags_not_buttons(gw, capsys, monkeypatch):
	monkeypatch.delenv("WHATSAPP_CRM_API_KEY", raising=False)
	said = []
	for argv in (
		("connect", "--url", "ftp://x", "--session", "s1", "--api-key", "k"),
		("connect", "--url", gw.url, "--session", "s1"),
		("status", "--url", gw.url, "--session", "s1", "--api-key", "wrong"),
		("status", "--url", gw.url, "--session", "never-created", "--api-key", SENTINEL_KEY),
		("status", "--url", "http://127.0.0.1:9", "--session", "s1", "--api-key", "k"),
	):
		_, out, err = run(capsys, *argv)
		said.append(out + err)
	everything = "\n".join(said)
	for desk_words in ("Click", "Retrying automatically", "WhatsApp Gateway record", "WhatsApp CRM Settings"):
		assert desk_words not in everything
	assert "The gateway URL (--url) must start with http://" in said[0]
	assert "No API key: give --api-key" in said[1]
	assert "Check --api-key" in said[2]
	assert "create it with whatsapp-crm connect" in said[3]
	assert "that --url is right" in said[4]


def test_inside_a_bench_the_fix_is_the_records_field(gw, capsys):
	def resolve(name: str) -> tuple[str, str, str]:
		return gw.url, "not-the-key", "baileys"

	assert cli.main(["status", "--gateway", "main", "--session", "s1"], resolve_gateway=resolve) == 2
	out = capsys.readouterr().out
	assert "Check the API Key of WhatsApp Gateway 'main'." in out


def test_connect_status_and_sync_answer_bad_input_in_one_shape(gw, capsys):
	lines = []
	for command in ("connect", "status", "sync"):
		code, out, err = run(capsys, command, "--url", gw.url, "--session", "a/b", "--api-key", SENTINEL_KEY)
		assert (code, out) == (cli.EXIT_USAGE, "")
		lines.append(err)
	assert len(set(lines)) == 1 and lines[0].startswith("error: The session ID may only contain")
	for command in ("connect", "status", "sync"):
		code, out, _ = run(
			capsys, command, "--url", gw.url, "--session", "a/b", "--api-key", SENTINEL_KEY, "--json"
		)
		payload = json.loads(out)
		assert code == cli.EXIT_USAGE
		assert "The session ID may only contain" in payload["message"]
	assert gw.count() == 0  # refused before any request


@pytest.mark.parametrize(
	"argv",
	[
		("connect", "--session", "s1", "--deadline", "nan"),
		("connect", "--session", "s1", "--deadline", "inf"),
		("connect", "--session", "s1", "--wait", "-1"),
		("status", "--session", "s1", "--deadline", "-1"),
		("sync", "--session", "s1", "--max-pages", "-1"),
		("sync", "--session", "s1", "--max-pages", "0"),
		("sync", "--session", "s1", "--deadline", "nan"),
		("doctor", "--probe-s", "-1"),
		("doctor", "--probe-s", "nan"),
	],
)
def test_numbers_out_of_range_are_refused_before_anything_is_sent(gw, capsys, argv):
	flag = argv[-2]
	code, out, err = run(capsys, argv[0], "--url", gw.url, "--api-key", SENTINEL_KEY, *argv[1:])
	assert code == cli.EXIT_USAGE and out == ""
	assert err.startswith(f"error: {flag} must be")
	assert gw.count() == 0


def test_demo_refuses_a_negative_scan_time(capsys):
	assert cli.main(["demo", "--scan-after", "-1"]) == cli.EXIT_USAGE
	assert "--scan-after must be a zero or positive number" in capsys.readouterr().err


def test_simulate_refuses_a_port_out_of_range_without_a_traceback(capsys):
	with pytest.raises(SystemExit) as e:
		cli.main(["simulate", "--port", "99999"])
	assert e.value.code == 2
	err = capsys.readouterr().err
	assert "--port: must be from 0 (any free port) to 65535" in err and "Traceback" not in err


def test_no_desk_words_in_any_terminal_text():
	"""Every outcome text the terminal can print, for every code, names no button."""
	from whatsapp_crm.gateway import texts

	for template in (*texts.BY_CODE.values(), texts.NOT_CREATED_YET, texts.HISTORY_STORE_OFF):
		said = texts.for_terminal(template)
		assert "Click" not in said and "click" not in said and "Retrying automatically" not in said, said


def test_doctor_help_names_its_own_default(capsys):
	with pytest.raises(SystemExit):
		cli.main(["doctor", "--help"])
	assert "default auto)" in " ".join(capsys.readouterr().out.split())


def test_doctor_json_speaks_as_the_terminal_does(capsys):
	code, out, _ = run(capsys, "doctor", "--url", "http://127.0.0.1:9", "--api-key", "k", "--json")
	[check] = json.loads(out)["checks"]
	assert code == cli.EXIT_GATEWAY and check["code"] == "UNREACHABLE"
	assert "--url" in check["text"] and "WhatsApp Gateway record" not in check["text"]


def test_a_connect_that_gets_no_qr_says_why_not_waiting(gw, capsys):
	gw.set_scenario("never", "offline")  # the gateway cannot reach WhatsApp: no QR, ever
	code, out, _ = run(
		capsys,
		"connect",
		"--url",
		gw.url,
		"--session",
		"never",
		"--api-key",
		SENTINEL_KEY,
		"--json",
		"--deadline",
		"2",
	)
	assert code == cli.EXIT_NO_QR
	assert json.loads(out)["message"].startswith("The gateway produced no QR code in 2 s.")
