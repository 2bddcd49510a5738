"""Quoting requests: ``quote`` one provider, ``quote_many`` for a comparison, ``total`` to add them up."""

from __future__ import annotations

from collections.abc import Iterable

from ..core.request import EditRequest
from ..core.sizes import MAX_PIXELS, fit_sides
from .rules import Quote, QuoteItem, to_usd
from .table import PriceTable, load_table


def quote(
    request: EditRequest,
    provider_id: str | None = None,
    *,
    table: PriceTable | None = None,
    max_pixels: int = MAX_PIXELS,
    protocol: str | None = None,
    side_range: tuple[int, int] | None = None,
) -> Quote:
    """The estimated price of ``request`` on ``provider_id`` (default: ``request.provider``).

    The output is priced at ``request.output_size(max_pixels)``, each reference at the size it is sent
    at (``ref.sent_size(max_pixels)``: downscaled locally to fit ``max_pixels``). ``protocol`` lets a
    custom provider profile fall back to its protocol's entry. Pure once the table is loaded (without
    ``table``, the cached built-in table is used).
    """
    pid = provider_id or request.provider
    rules = table if table is not None else load_table()
    rule = rules.rule_for(pid, protocol)
    w, h = request.output_size(max_pixels)
    if side_range is not None:
        w, h = fit_sides(w, h, *side_range) or (w, h)  # a shape that cannot fit is refused before sending
    refs = []
    for ref in request.references:
        rw, rh = ref.sent_size(max_pixels)
        refs.append(rw * rh)
    return rule.price(pid, w * h, refs)


def quote_many(
    request: EditRequest,
    provider_ids: Iterable[str],
    *,
    table: PriceTable | None = None,
    max_pixels: int = MAX_PIXELS,
) -> list[Quote]:
    """One quote per provider, in the order given (for a comparison run)."""
    rules = table if table is not None else load_table()
    return [quote(request, pid, table=rules, max_pixels=max_pixels) for pid in provider_ids]


def total(quotes: Iterable[Quote]) -> Quote:
    """The sum of several quotes, as a quote whose breakdown has one line per provider.

    ``usd`` is None when any price is unknown (a spending cap cannot be checked against a partial sum);
    the note then names the providers without a price.
    """
    items: list[QuoteItem] = []
    micro = 0
    unknown: list[str] = []
    approximate = False
    for q in quotes:
        items.append(QuoteItem(q.provider, None, q.usd))
        approximate = approximate or q.approximate
        m = q.micro_usd
        if m is None:
            unknown.append(q.provider)
        else:
            micro += m
    note = f"price unknown for {', '.join(unknown)}" if unknown else ""
    return Quote(
        "total", None if unknown else to_usd(micro), tuple(items), approximate or bool(unknown), note, "total"
    )
