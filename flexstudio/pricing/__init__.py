"""Prices as data: estimate what an ``EditRequest`` costs on each provider, before it is sent.

Pure and Qt-free. The only disk access is ``load_table`` (cached), which reads ``resources/prices.json``
and, when given, the user's own price file merged over it.
"""

from __future__ import annotations

from .estimate import quote, quote_many, total
from .rules import (
    FIRST_MP,
    FREE,
    PER_CALL,
    PER_IMAGE,
    PER_MP,
    RULES,
    UNKNOWN,
    UNKNOWN_NOTE,
    PriceRule,
    Quote,
    QuoteItem,
    Tier,
)
from .table import (
    PriceTable,
    builtin_prices_path,
    clear_cache,
    load_table,
    parse_table,
    resources_dir,
)

__all__ = [
    "FIRST_MP",
    "FREE",
    "PER_CALL",
    "PER_IMAGE",
    "PER_MP",
    "RULES",
    "UNKNOWN",
    "UNKNOWN_NOTE",
    "PriceRule",
    "PriceTable",
    "Quote",
    "QuoteItem",
    "Tier",
    "builtin_prices_path",
    "clear_cache",
    "load_table",
    "parse_table",
    "quote",
    "quote_many",
    "resources_dir",
    "total",
]
