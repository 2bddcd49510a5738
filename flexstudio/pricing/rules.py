"""Price rules and quotes: pure arithmetic on integer micro-dollars (1 USD = 1,000,000 µUSD).

A ``PriceRule`` is one provider's entry of the price table, with every rate already converted to
integer micro-dollars when the table is loaded, so that pricing a request is a handful of integer
operations (it runs while a slider is dragged) and never produces ``0.15000000000000002``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ..core.sizes import MEGAPIXEL

MICRO = 1_000_000  # micro-dollars per dollar

FREE = "free"
PER_MP = "per_mp"
FIRST_MP = "first_mp"
PER_IMAGE = "per_image"
PER_CALL = "per_call"
UNKNOWN = "unknown"
RULES: tuple[str, ...] = (FREE, PER_MP, FIRST_MP, PER_IMAGE, PER_CALL, UNKNOWN)

UNKNOWN_NOTE = "Price unknown for this gateway; set a rate in Settings → Spending."


def to_micro(usd: float) -> int:
    """Dollars (as written in the data file) → integer micro-dollars."""
    return round(usd * MICRO)


def to_usd(micro: int) -> float:
    """Integer micro-dollars → dollars. The quotient is correctly rounded, so 150000 → 0.15 exactly."""
    return micro / MICRO


def present_usd(usd: float | None) -> float | None:
    """Dollars as shown in JSON: rounded to 4 decimals (hundredths of a cent)."""
    return None if usd is None else round(usd, 4)


def billed_mp(pixels: int) -> int:
    """Whole megapixels billed for one image: rounded up, 1 MP minimum (integer arithmetic)."""
    return max(1, -(-pixels // MEGAPIXEL))


@dataclass(frozen=True, slots=True)
class Tier:
    """One price of a per-call rule: outputs up to ``max_pixels`` cost ``micro_usd``."""

    label: str
    max_pixels: int
    micro_usd: int
    approximate: bool = False


@dataclass(frozen=True, slots=True)
class QuoteItem:
    """One line of a quote: ``"output"``, ``"image 1"``, ``"image 2"``, …

    ``megapixels`` is what the item is billed for under a per-megapixel rule (whole MP, rounded up);
    under a flat rule (free, per image, per call, unknown) it is the image's actual size in MP
    (2 decimals), shown for information. ``usd`` is None when the price is unknown.
    """

    item: str
    megapixels: float | None
    usd: float | None

    def to_dict(self) -> dict[str, Any]:
        return {"item": self.item, "megapixels": self.megapixels, "usd": present_usd(self.usd)}


@dataclass(frozen=True, slots=True)
class Quote:
    """The estimated price of one request on one provider. ``usd`` is None when unknown."""

    provider: str
    usd: float | None
    breakdown: tuple[QuoteItem, ...]
    approximate: bool
    note: str
    rule: str

    @property
    def micro_usd(self) -> int | None:
        """The price in integer micro-dollars (exact: ``usd`` was made from it)."""
        return None if self.usd is None else round(self.usd * MICRO)

    @property
    def known(self) -> bool:
        return self.usd is not None

    def to_dict(self) -> dict[str, Any]:
        """The command-line form: ``{"provider", "usd", "breakdown": [{"item", "megapixels", "usd"}],
        "approximate", "note", "rule"}``."""
        return {
            "provider": self.provider,
            "usd": present_usd(self.usd),
            "breakdown": [item.to_dict() for item in self.breakdown],
            "approximate": self.approximate,
            "note": self.note,
            "rule": self.rule,
        }


def _size_mp(pixels: int) -> float:
    return round(pixels / MEGAPIXEL, 2)


def _labels(n_refs: int) -> tuple[str, ...]:
    return ("output", *(f"image {i}" for i in range(1, n_refs + 1)))


@dataclass(frozen=True, slots=True)
class PriceRule:
    """One provider's price, ready to compute (rates in integer micro-dollars).

    ``rule`` is one of ``RULES``:

    - ``free``: nothing is billed (the sandbox).
    - ``per_mp``: ``rate`` per megapixel on the output and on each reference, each image rounded up
      to whole MP with a 1 MP minimum (fal, Replicate, Lumenfall).
    - ``first_mp``: BFL's rule: ``first_mp`` for the first output MP, ``additional_mp`` for each further
      output MP (rounded up), ``input_mp`` per reference MP (rounded up per image, 1 MP minimum: an
      assumption, so such quotes are approximate).
    - ``per_image``: ``rate`` per output image whatever its size; references are free.
    - ``per_call``: a flat price per call chosen by output size from ``tiers`` (``edit_tiers`` when
      references are sent).
    - ``unknown``: no price; quotes carry ``usd=None``.

    A rate of None (``per_mp``/``per_image``) means the price is not known: quotes are unknown too.
    """

    provider: str
    rule: str
    rate: int | None = None  # per_mp: per MP; per_image: per image
    first_mp: int | None = None  # first_mp rule
    additional_mp: int | None = None  # first_mp rule
    input_mp: int | None = None  # first_mp rule
    tiers: tuple[Tier, ...] = ()
    edit_tiers: tuple[Tier, ...] = ()
    currency: str = "USD"
    approximate: bool = False
    source_url: str | None = None
    checked: str | None = None
    note: str = ""
    origin: str = "built-in"  # "user" when the user's price file changed this entry

    # ------------------------------------------------------------------ display helpers
    @property
    def rate_usd(self) -> float | None:
        return None if self.rate is None else to_usd(self.rate)

    @property
    def summary(self) -> str:
        """One short line for Settings and ``flexstudio providers``."""
        if self.rule == FREE:
            return "free"
        if self.rule == PER_MP and self.rate is not None:
            return f"${to_usd(self.rate):g} per MP in and out, rounded up per image"
        if self.rule == FIRST_MP and None not in (self.first_mp, self.additional_mp, self.input_mp):
            return (
                f"${to_usd(self.first_mp or 0):g} first output MP, "
                f"${to_usd(self.additional_mp or 0):g} per further MP, "
                f"${to_usd(self.input_mp or 0):g} per input MP"
            )
        if self.rule == PER_IMAGE and self.rate is not None:
            return f"${to_usd(self.rate):g} per image"
        if self.rule == PER_CALL and self.tiers:
            return "per call: " + ", ".join(f"{t.label} ${to_usd(t.micro_usd):g}" for t in self.tiers)
        return "price unknown"

    # ------------------------------------------------------------------ computing
    def price(self, provider: str, output_pixels: int, reference_pixels: Sequence[int]) -> Quote:
        """Price one output of ``output_pixels`` made from references of ``reference_pixels`` each
        (their sizes as sent, after the local downscale). Pure and allocation-light."""
        labels = _labels(len(reference_pixels))
        pixels = (output_pixels, *reference_pixels)
        rule = self.rule
        if rule == PER_MP and self.rate is not None:
            rate = self.rate
            mps = [billed_mp(p) for p in pixels]
            micros = [mp * rate for mp in mps]
            return self._quote(provider, labels, mps, micros, self.approximate, self.note)
        if (
            rule == FIRST_MP
            and self.first_mp is not None
            and self.additional_mp is not None
            and self.input_mp is not None
        ):
            mps = [billed_mp(p) for p in pixels]
            micros = [self.first_mp + (mps[0] - 1) * self.additional_mp]
            micros.extend(mp * self.input_mp for mp in mps[1:])
            return self._quote(provider, labels, mps, micros, self.approximate, self.note)
        sizes = [_size_mp(p) for p in pixels]
        rest = [0] * len(reference_pixels)
        if rule == FREE:
            return self._quote(provider, labels, sizes, [0, *rest], self.approximate, self.note)
        if rule == PER_IMAGE and self.rate is not None:
            return self._quote(provider, labels, sizes, [self.rate, *rest], self.approximate, self.note)
        if rule == PER_CALL and self.tiers:
            tiers = self.edit_tiers if reference_pixels and self.edit_tiers else self.tiers
            tier = tiers[-1]
            over = True
            for t in tiers:
                if output_pixels <= t.max_pixels:
                    tier, over = t, False
                    break
            kind = "editing" if reference_pixels else "text-to-image"
            note = f"{tier.label} {kind}: ${to_usd(tier.micro_usd):g} per call."
            if over:
                note += f" The output is larger than the {tier.label} tier; priced at {tier.label}."
            if self.note:
                note += " " + self.note
            approx = self.approximate or tier.approximate or over
            return self._quote(provider, labels, sizes, [tier.micro_usd, *rest], approx, note)
        # unknown rule, or a rule whose rate is not known
        items = tuple(QuoteItem(label, mp, None) for label, mp in zip(labels, sizes, strict=True))
        return Quote(provider, None, items, True, self.note or UNKNOWN_NOTE, rule)

    def _quote(
        self,
        provider: str,
        labels: Sequence[str],
        mps: Sequence[float],
        micros: Sequence[int],
        approximate: bool,
        note: str,
    ) -> Quote:
        items = tuple(
            QuoteItem(label, float(mp), to_usd(micro))
            for label, mp, micro in zip(labels, mps, micros, strict=True)
        )
        return Quote(provider, to_usd(sum(micros)), items, approximate, note, self.rule)


def unknown_rule(provider: str, note: str = UNKNOWN_NOTE) -> PriceRule:
    """The rule for a provider the table does not know."""
    return PriceRule(provider=provider, rule=UNKNOWN, approximate=True, note=note)
