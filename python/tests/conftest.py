"""The cluster the tests run against: ``--gramfleet-url`` and ``--gramfleet-token`` (npm test's
integration/python test passes a real local cluster's jobs API and a token made by the CLI),
plus ``--gramfleet-expired-token`` (a token past its expiry) and ``--gramfleet-data`` (the
repository's shared data directory)."""

from __future__ import annotations

import pytest

import gramfleet


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--gramfleet-url", default=None, help="jobs API address of a running cluster")
    parser.addoption("--gramfleet-token", default=None, help="a token from 'gramfleet token create'")
    parser.addoption("--gramfleet-expired-token", default=None, help="a token past its expiry")


@pytest.fixture(scope="session")
def api(request: pytest.FixtureRequest) -> tuple:
    url = request.config.getoption("--gramfleet-url")
    token = request.config.getoption("--gramfleet-token")
    if not url or not token:
        pytest.fail("these tests need a cluster: pass --gramfleet-url and --gramfleet-token (npm test's integration/python test does)")
    return url, token


@pytest.fixture(scope="session")
def fleet(api: tuple) -> gramfleet.Fleet:
    return gramfleet.connect(*api)
