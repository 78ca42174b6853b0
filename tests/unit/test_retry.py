"""The one retry policy: what each kind of request retries, and how long it waits."""

from __future__ import annotations

import pytest

import registry_client._retry as retry_mod
from registry_client import NullAuthenticator, Registry
from registry_client._retry import CHUNK_POLICY, REGISTRY_POLICY, TOKEN_POLICY, RetryPolicy


def test_the_differences_between_the_policies_are_their_statuses() -> None:
    assert REGISTRY_POLICY.statuses == {429, 502, 503, 504}
    assert TOKEN_POLICY.statuses - REGISTRY_POLICY.statuses == {500}
    assert CHUNK_POLICY.statuses - REGISTRY_POLICY.statuses == {500, 416}
    for policy in (TOKEN_POLICY, CHUNK_POLICY):
        assert (policy.retries, policy.backoff, policy.max_backoff, policy.jitter) == (
            REGISTRY_POLICY.retries, REGISTRY_POLICY.backoff, REGISTRY_POLICY.max_backoff,
            REGISTRY_POLICY.jitter)


def test_should_retry_counts_the_retries_and_filters_statuses() -> None:
    policy = REGISTRY_POLICY.tuned(retries=2, backoff=0.1, max_backoff=1)
    assert [policy.should_retry(n) for n in range(4)] == [True, True, False, False]
    assert policy.should_retry(0, 503) and not policy.should_retry(0, 500)
    assert not policy.should_retry(2, 503)
    assert REGISTRY_POLICY.tuned(retries=-3, backoff=0, max_backoff=0).retries == 0


def test_delay_is_exponential_with_half_of_it_random(monkeypatch: pytest.MonkeyPatch) -> None:
    drawn: list[tuple[float, float]] = []

    def uniform(a: float, b: float) -> float:
        drawn.append((a, b))
        return b

    monkeypatch.setattr(retry_mod.random, "uniform", uniform)
    policy = RetryPolicy(frozenset({503}), retries=5, backoff=0.5, max_backoff=3.0)
    assert [policy.delay(n) for n in range(4)] == [0.5, 1.0, 2.0, 3.0]
    assert drawn == [(0, 0.25), (0, 0.5), (0, 1.0), (0, 1.5)]


def test_retry_after_is_taken_as_given_up_to_the_cap() -> None:
    policy = RetryPolicy(frozenset({429}), backoff=0.25, max_backoff=10.0)
    assert policy.delay(0, 4.0) == 4.0
    assert policy.delay(3, 60.0) == 10.0
    assert policy.delay(0, -1.0) == 0.0


def test_a_registry_tunes_its_policies_from_its_options() -> None:
    reg = Registry("registry.example", authenticator=NullAuthenticator(), retries=5,
                   backoff=0.5, max_backoff=7.0)
    requester = reg.requester
    for policy in (requester.policy, requester.token_policy, requester.chunk_policy):
        assert (policy.retries, policy.backoff, policy.max_backoff) == (5, 0.5, 7.0)
    assert requester.policy.statuses == REGISTRY_POLICY.statuses
    assert requester.token_policy.statuses == TOKEN_POLICY.statuses
    assert requester.chunk_policy.statuses == CHUNK_POLICY.statuses
    assert (requester.retries, requester.backoff, requester.max_backoff) == (5, 0.5, 7.0)
