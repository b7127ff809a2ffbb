"""Circuit breaker and sliding-window limit, on a fake clock with the in-memory store."""

from whatsapp_crm.gateway.resilience import CircuitBreaker, MemoryStore, SlidingWindowLimit


class Clock:
	def __init__(self):
		self.t = 1_000_000.0

	def __call__(self):
		return self.t


def test_breaker_opens_on_timeouts_and_backs_off():
	clock = Clock()
	breaker = CircuitBreaker(MemoryStore(clock), "gw", base_s=5, max_s=60, clock=clock)
	assert not breaker.state().open
	assert breaker.record("TIMEOUT").retry_in_s == 5
	state = breaker.state()
	assert state.open and state.code == "TIMEOUT" and state.failures == 1
	clock.t += 5.01
	assert not breaker.state().open
	assert breaker.record("UNREACHABLE").retry_in_s == 10  # the next failure in a row waits longer
	clock.t += 11
	assert breaker.record("TIMEOUT").retry_in_s == 20
	for _ in range(5):
		last = breaker.record("TIMEOUT")
	assert last.retry_in_s == 60  # capped


def test_breaker_ignores_answers_that_are_not_outages_and_resets_on_success():
	clock = Clock()
	breaker = CircuitBreaker(MemoryStore(clock), "gw", clock=clock)
	for code in ("QR_NOT_READY", "QR_GENERATION_ERROR", "UNAUTHORIZED", "SERVER_ERROR"):
		assert not breaker.record(code).open
	breaker.record("TIMEOUT")
	breaker.record(None)
	assert not breaker.state().open and breaker.state().failures == 0


def test_breaker_state_is_shared_through_the_store():
	clock = Clock()
	store = MemoryStore(clock)
	CircuitBreaker(store, "gw", clock=clock).record("UNREACHABLE")
	assert CircuitBreaker(store, "gw", clock=clock).state().open  # another worker sees it
	assert not CircuitBreaker(store, "other-gw", clock=clock).state().open


def test_breaker_survives_garbage_in_the_store():
	clock = Clock()
	store = MemoryStore(clock)
	store.set("gw", "not json", 60)
	assert not CircuitBreaker(store, "gw", clock=clock).state().open


def test_sliding_window_limit():
	clock = Clock()
	limit = SlidingWindowLimit(MemoryStore(clock), "s1", limit=5, window_s=600, clock=clock)
	results = []
	for _ in range(6):
		results.append(limit.hit())
		clock.t += 10
	assert [r.allowed for r in results] == [True] * 5 + [False]
	assert results[4].remaining == 0
	assert results[5].retry_after_s == 600 - 50
	clock.t += 600 - 60 + 0.01  # the first hit leaves the window
	assert limit.hit().allowed
	assert not limit.hit().allowed


def test_memory_store_expires():
	clock = Clock()
	store = MemoryStore(clock)
	store.set("k", "v", 1)
	assert store.get("k") == "v"
	clock.t += 1
	assert store.get("k") is None


def test_one_sessions_timeouts_do_not_open_the_gateways_breaker():
	clock = Clock()
	breaker = CircuitBreaker(MemoryStore(clock), "gw", distinct=2, window_s=30, clock=clock)
	for _ in range(5):  # the same session, again and again
		assert not breaker.record("TIMEOUT", source="sick").open
	assert not breaker.state().open
	assert not breaker.record(None, source="well").open  # a neighbour's success
	opened = breaker.record("TIMEOUT", source="second")  # a second session fails: the gateway is down
	assert opened.open and opened.code == "TIMEOUT"


def test_failures_of_different_sessions_count_only_within_the_window():
	clock = Clock()
	breaker = CircuitBreaker(MemoryStore(clock), "gw", distinct=2, window_s=30, clock=clock)
	breaker.record("TIMEOUT", source="a")
	clock.t += 31
	assert not breaker.record("TIMEOUT", source="b").open  # a's failure is old news
	assert breaker.record("UNREACHABLE", source="c").open


def test_a_gateway_wide_failure_opens_at_once_and_a_success_closes_it():
	clock = Clock()
	breaker = CircuitBreaker(MemoryStore(clock), "gw", distinct=3, clock=clock)
	assert breaker.record("UNREACHABLE").open  # no session: a call about the server itself
	assert not breaker.record(None, source="x").open  # the server answered: it is up again


def test_a_recovered_session_is_forgotten():
	clock = Clock()
	breaker = CircuitBreaker(MemoryStore(clock), "gw", distinct=2, clock=clock)
	breaker.record("TIMEOUT", source="a")
	breaker.record(None, source="a")  # a answers again
	assert not breaker.record("TIMEOUT", source="b").open  # only b fails now
