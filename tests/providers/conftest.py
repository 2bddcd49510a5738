"""Fixtures every provider test module uses."""

from __future__ import annotations

import pytest_asyncio

from flexstudio.providers.http import new_client


@pytest_asyncio.fixture
async def client():
    """FlexStudio's own HTTP client (no default auth, no redirects), closed after the test."""
    c = new_client()
    yield c
    await c.aclose()
