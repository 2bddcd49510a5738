"""``asyncio``, imported on first use. The window's modules name it at module level, but nothing of it
is needed until the event loop starts — after the first paint — and importing it costs ~35 ms of start-up.
``from .aio import asyncio`` gives an object that loads the real module on first attribute access and
then answers from its own dictionary."""

from __future__ import annotations

import importlib
from typing import Any


class _Deferred:
    def __init__(self, name: str) -> None:
        self.__dict__["_name"] = name

    def __getattr__(self, attr: str) -> Any:
        value = getattr(importlib.import_module(self._name), attr)
        self.__dict__[attr] = value  # the next access skips __getattr__
        return value


asyncio: Any = _Deferred("asyncio")
