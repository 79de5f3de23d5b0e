"""Kept-alive connections are as fast as fresh ones (no Nagle/delayed-ACK stall).  # X1

A response written in several pieces makes every request on a reused
connection wait for the client's delayed ACK (about 40 ms on Linux), while a
fresh connection, still in quick-ACK mode, does not. The SDK reuses
connections, so the emulator must answer in one write with ``TCP_NODELAY``.
Timings are compared within the test (medians of interleaved requests), never
against a fixed budget.
"""

from __future__ import annotations

import http.client
import statistics
import time
import urllib.parse

from .conftest import SECRET_KEY

ROUNDS = 15
STALL = 0.040  # the delayed-ACK wait a stall adds to each request


def _timed(connection: http.client.HTTPConnection, method: str, path: str,
           body: dict | None = None) -> float:
    headers = {"Authorization": f"Bearer {SECRET_KEY}"}
    encoded = None
    if body is not None:
        encoded = urllib.parse.urlencode(body)
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    started = time.perf_counter()
    connection.request(method, path, body=encoded, headers=headers)
    response = connection.getresponse()
    payload = response.read()
    elapsed = time.perf_counter() - started
    assert response.status == 200, payload
    assert response.getheader("Connection") != "close"
    return elapsed


def test_kept_alive_requests_are_not_delayed(emulator):  # X1
    host, port = "127.0.0.1", emulator.port
    kept = http.client.HTTPConnection(host, port, timeout=10)
    _timed(kept, "GET", "/v1/account")  # open it
    requests_made = [("GET", "/v1/account", None),
                     ("POST", "/v1/customers", {"name": "Cora"}),
                     ("GET", "/_emulator/health", None)]
    fresh_times, kept_times = [], []
    try:
        for index in range(ROUNDS):
            method, path, body = requests_made[index % len(requests_made)]
            fresh = http.client.HTTPConnection(host, port, timeout=10)
            try:
                fresh_times.append(_timed(fresh, method, path, body))
            finally:
                fresh.close()
            kept_times.append(_timed(kept, method, path, body))
        socket_before = kept.sock
        _timed(kept, "GET", "/v1/account")
        assert kept.sock is socket_before  # every request above went over one connection
    finally:
        kept.close()
    fresh_median = statistics.median(fresh_times)
    kept_median = statistics.median(kept_times)
    assert kept_median < fresh_median + STALL / 2, (
        f"kept-alive median {kept_median * 1000:.1f} ms vs fresh {fresh_median * 1000:.1f} ms: "
        f"kept {[round(t * 1000, 1) for t in kept_times]}")
