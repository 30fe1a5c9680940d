"""Starts a real `cashier serve` on a fresh data directory and a free port, and hands the tests
an unmodified alpaca-py BrokerClient pointed at it."""

import json
import os
import socket
import subprocess
import tempfile
import time

import pytest
from alpaca.broker import BrokerClient

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BINARY = os.environ.get("CASHIER_BIN", os.path.join(ROOT, "target", "debug", "cashier"))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server():
    """A `cashier serve` process on a fresh data directory and a free port: (process, url, sandbox)."""
    data_dir = tempfile.mkdtemp(prefix="cashier-sdk-")
    port = free_port()
    process = subprocess.Popen(
        [BINARY, "serve", "--data-dir", data_dir, "--listen", f"127.0.0.1:{port}"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "RUST_LOG": "warn"},
    )
    deadline = time.time() + 60
    for line in process.stdout:
        if "listening on" in line:
            break
        if time.time() > deadline:
            raise RuntimeError("cashier did not start")
    with open(os.path.join(data_dir, "sandbox.json")) as f:
        sandbox = json.load(f)
    return process, f"http://127.0.0.1:{port}", sandbox


def stop_server(process):
    process.terminate()
    assert process.wait(timeout=30) == 0, "cashier stops cleanly on SIGTERM"


@pytest.fixture(scope="session")
def server():
    process, url, sandbox = start_server()
    yield {"url": url, "sandbox": sandbox}
    stop_server(process)


@pytest.fixture()
def fresh_server():
    """A server of the test's own, for tests that change the ledger freely."""
    process, url, sandbox = start_server()
    yield {"url": url, "sandbox": sandbox}
    stop_server(process)


@pytest.fixture(scope="session")
def sandbox(server):
    return server["sandbox"]


@pytest.fixture(scope="session")
def client(server):
    sandbox = server["sandbox"]
    client = BrokerClient(api_key=sandbox["api_key"], secret_key=sandbox["api_secret"], url_override=server["url"])
    client._retry = 0  # fail at once on 429/504 instead of retrying for 9 s
    return client


def wait_until(predicate, what, seconds=10):
    deadline = time.time() + seconds
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")
