"""http only to this computer, credentials never follow a redirect, every request is bounded in time."""

from __future__ import annotations

import asyncio
import socket
import threading

import httpx
import pytest

from flexstudio.core.errors import ErrorKind, ProviderError
from flexstudio.providers.http import Http, RetryPolicy, check_url, new_client
from tests.emulators.base import Delivery, Emulator, Reply, json_reply


async def _no_wait(_s: float) -> None:
    return None


@pytest.mark.parametrize(
    "url",
    [
        "http://api.bfl.ai/v1/flux-2-flex",
        "http://10.0.0.5/x",
        "ftp://127.0.0.1/x",
        "file:///etc/passwd",
        "http:///nohost",
    ],
)
def test_plain_http_to_anything_but_loopback_is_refused(url):
    with pytest.raises(ProviderError, match="only https"):
        check_url(url)


@pytest.mark.parametrize(
    "url",
    [
        "https://api.bfl.ai/v1/flux-2-flex",
        "http://127.0.0.1:9000/v1",
        "http://[::1]:80/",
        "http://localhost:8080/",
    ],
)
def test_https_and_loopback_pass(url):
    assert check_url(url) == url


class Redirecting(Emulator):
    def __init__(self, target: str) -> None:
        super().__init__()
        self.target = target

    def handle(self, req):
        return Reply(302, b"", headers={"Location": self.target})


def test_api_calls_never_follow_a_redirect_with_the_key():
    other = Delivery().start()
    api = Redirecting(f"{other.url}/steal").start()

    async def go():
        async with new_client() as client:
            http = Http(client, "Test", sleep=_no_wait)
            r1 = await http.submit("POST", f"{api.url}/v1/x", headers={"x-key": "SECRET-1"}, json={})
            r2 = await http.get(f"{api.url}/v1/poll", headers={"authorization": "Bearer SECRET-2"})
            return r1.status_code, r2.status_code

    try:
        assert asyncio.run(go()) == (302, 302)  # surfaced to the provider as an error answer, not followed
        assert other.requests == []
    finally:
        api.stop()
        other.stop()


def test_downloads_follow_redirects_without_any_credentials():
    delivery, third = Delivery(scenario="redirect_other_host").start(), Delivery().start()
    delivery.third = third
    url = delivery.host(b"\xff\xd8\xff fake jpeg bytes", "image/jpeg")

    async def go():
        async with httpx.AsyncClient(headers={"authorization": "Bearer LEAK", "x-key": "LEAK"}) as client:
            return await Http(client, "Test", sleep=_no_wait).download(url)

    try:
        assert asyncio.run(go()).startswith(b"\xff\xd8")
        for host in (delivery, third):
            assert host.requests and all("LEAK" not in v for r in host.requests for v in r.headers.values())
    finally:
        delivery.stop()
        third.stop()


def test_a_server_that_never_answers_times_out():
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)  # accepts connections, never answers
    port = sock.getsockname()[1]
    stop = threading.Event()

    async def go():
        async with new_client() as client:
            http = Http(
                client,
                "Silent",
                sleep=_no_wait,
                policy=RetryPolicy(attempts=2),
                timeout=httpx.Timeout(0.3, connect=0.3),
            )
            with pytest.raises(ProviderError) as poll_err:
                await http.get(f"http://127.0.0.1:{port}/poll")
            with pytest.raises(ProviderError) as submit_err:
                await http.submit("POST", f"http://127.0.0.1:{port}/submit", json={})
            return poll_err.value, submit_err.value

    try:
        poll_err, submit_err = asyncio.run(asyncio.wait_for(go(), 10))
        assert poll_err.kind == ErrorKind.TIMEOUT and submit_err.kind == ErrorKind.TIMEOUT
        for err in (poll_err, submit_err):
            assert f"127.0.0.1:{port}" in str(err) and "Timeout" not in str(err), str(err)
    finally:
        stop.set()
        sock.close()


def test_a_refused_connection_names_the_address_tried_and_what_to_do():
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]  # bound, never listening: every connection is refused

    async def go():
        async with new_client() as client:
            http = Http(client, "BFL", sleep=_no_wait, policy=RetryPolicy(attempts=2))
            with pytest.raises(ProviderError) as err:
                await http.submit("POST", f"http://127.0.0.1:{port}/v1/flux-2-flex?key=sekrit-123", json={})
            return err.value

    try:
        err = asyncio.run(asyncio.wait_for(go(), 10))
    finally:
        sock.close()
    text = str(err)
    assert err.kind == ErrorKind.NETWORK and not err.submitted
    assert f"http://127.0.0.1:{port}" in text and "--base-url" in text and "connection" in text
    assert "sekrit" not in text and "/v1" not in text and "Error" not in text


class RetryAfter(Emulator):
    def handle(self, req):
        if self.once("429"):
            return json_reply({"detail": "slow down"}, 429, **{"Retry-After": "7"})
        return json_reply({"ok": True})


def test_retry_after_is_honoured_for_polls_and_submits():
    emu = RetryAfter().start()
    waits: list[float] = []

    async def rec(s: float) -> None:
        waits.append(s)

    async def go():
        async with new_client() as client:
            http = Http(client, "Test", sleep=rec)
            r = await http.get(f"{emu.url}/poll")
            emu.counters.clear()
            r2 = await http.submit("POST", f"{emu.url}/submit", json={})
            return r.status_code, r2.status_code

    try:
        assert asyncio.run(go()) == (200, 200)
        assert waits == [7.0, 7.0]
        assert emu.count("POST", "/submit") == 2  # a 429 means no job was made: one retry is safe
    finally:
        emu.stop()
