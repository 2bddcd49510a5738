"""Price rules, the price table and quotes (providers.md §1.7, §2.5, §3.5, §4.2, §5, §6, §11)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from flexstudio.core.errors import BadInput
from flexstudio.core.request import EditRequest, ImageRef
from flexstudio.core.sizes import ASPECT_PRESETS, MEGAPIXEL
from flexstudio.pricing import (
    UNKNOWN_NOTE,
    PriceRule,
    PriceTable,
    Quote,
    QuoteItem,
    builtin_prices_path,
    load_table,
    parse_table,
    quote,
    quote_many,
    resources_dir,
    total,
)

REPO = Path(__file__).resolve().parents[2]
ALL_PROVIDERS = (
    "sandbox",
    "bfl",
    "bfl-eu",
    "bfl-us",
    "fal",
    "replicate",
    "lumenfall",
    "openai-compatible",
    "cometapi",
    "kie",
    "runapi",
    "fairstack",
)


def ref(w: int, h: int, name: str = "") -> ImageRef:
    return ImageRef(sha256=f"{w}x{h}{name}", width=w, height=h, name=name)


def req(
    size: tuple[int, int] | None = (1024, 1024), refs: tuple[ImageRef, ...] = (), provider: str = "sandbox"
) -> EditRequest:
    return EditRequest(prompt="make it blue", references=refs, size=size, provider=provider)


TWO_REFS = (ref(1024, 1024, "a"), ref(1024, 1024, "b"))


@pytest.fixture(scope="module")
def table() -> PriceTable:
    return load_table()


# ----------------------------------------------------------------------------- providers.md §6
@pytest.mark.parametrize(
    ("size", "refs", "expected"),
    [
        ((1024, 1024), (), {"fal": 0.05, "bfl": 0.05, "replicate": 0.06}),
        ((1024, 1024), TWO_REFS, {"fal": 0.15, "bfl": 0.15, "replicate": 0.18}),
        ((1920, 1088), (), {"fal": 0.10, "bfl": 0.10, "replicate": 0.12}),
        ((1920, 1088), TWO_REFS, {"fal": 0.20, "bfl": 0.20, "replicate": 0.24}),
    ],
    ids=["1024-t2i", "1024-2refs", "1920x1088-t2i", "1920x1088-2refs"],
)
def test_worked_examples(table, size, refs, expected):
    for provider, usd in expected.items():
        q = quote(req(size, refs), provider, table=table)
        assert q.usd == usd, provider
        assert q.to_dict()["usd"] == usd
        assert q.provider == provider


def test_worked_example_breakdown_fal(table):
    q = quote(req((1920, 1088), TWO_REFS), "fal", table=table)
    assert q.breakdown == (
        QuoteItem("output", 2.0, 0.10),
        QuoteItem("image 1", 1.0, 0.05),
        QuoteItem("image 2", 1.0, 0.05),
    )
    assert q.rule == "per_mp"
    assert not q.approximate


def test_bfl_first_mp_rule_is_approximate_and_splits_output(table):
    q = quote(req((1920, 1088), TWO_REFS), "bfl", table=table)
    assert q.approximate
    assert "cost" in q.note and "per image" in q.note
    assert [(i.item, i.megapixels, i.usd) for i in q.breakdown] == [
        ("output", 2.0, 0.10),
        ("image 1", 1.0, 0.05),
        ("image 2", 1.0, 0.05),
    ]
    for region in ("bfl-eu", "bfl-us"):
        assert quote(req((1920, 1088), TWO_REFS), region, table=table).usd == q.usd


def test_first_mp_rule_uses_its_three_rates():
    data = {
        "schema": 1,
        "providers": {
            "x": {
                "rule": "first_mp",
                "rates": {"first_mp_usd": 0.10, "additional_mp_usd": 0.03, "input_mp_usd": 0.02},
            }
        },
    }
    t = parse_table(data)
    # 1920×1088 output = 2 MP: 0.10 + 1 × 0.03; a 1500×1500 reference (sent 1488², 2.11 MP) = 3 × 0.02
    q = quote(req((1920, 1088), (ref(1500, 1500),)), "x", table=t)
    assert [i.usd for i in q.breakdown] == [0.13, 0.06]
    assert q.usd == 0.19
    # a 4 MP output: first MP + 3 further MP
    assert quote(req((2048, 2048)), "x", table=t).usd == 0.19


# ----------------------------------------------------------------------------- rounding and sizes
def test_small_reference_bills_one_megapixel(table):
    q = quote(req((1024, 1024), (ref(512, 512),)), "fal", table=table)
    assert q.breakdown[1] == QuoteItem("image 1", 1.0, 0.05)
    assert q.usd == 0.10


def test_small_output_bills_one_megapixel(table):
    assert quote(req((512, 512)), "fal", table=table).breakdown[0] == QuoteItem("output", 1.0, 0.05)


def test_each_reference_is_rounded_up_separately(table):
    q = quote(req((1024, 1024), (ref(1500, 1500), ref(1500, 1500))), "fal", table=table)
    assert [i.megapixels for i in q.breakdown] == [1.0, 3.0, 3.0]  # not ceil(2 × 2.11) = 5
    assert q.usd == 0.35
    assert quote(req((1024, 1024), (ref(1500, 1500),)), "replicate", table=table).usd == 0.24


def test_large_references_are_priced_at_their_downscaled_size(table):
    big = ref(6000, 4000)  # 22.9 MP: sent at ≤ 4 MP
    q = quote(req((1024, 1024), (big, ref(4096, 4096))), "fal", table=table)
    assert [i.megapixels for i in q.breakdown] == [1.0, 4.0, 4.0]
    assert q.usd == 0.45


def test_max_pixels_controls_the_downscale(table):
    q = quote(req((1024, 1024), (ref(4096, 4096),)), "fal", table=table, max_pixels=MEGAPIXEL)
    assert q.breakdown[1].megapixels == 1.0
    assert q.usd == 0.10


def test_auto_size_prices_the_output_at_image_one(table):
    q = quote(req(None, (ref(1920, 1080), ref(512, 512))), "fal", table=table)
    assert q.breakdown[0] == QuoteItem("output", 2.0, 0.10)  # output = image 1's sent size (1920×1072)
    assert quote(req(None), "fal", table=table).usd == 0.05  # no reference: 1024×1024


def test_provider_defaults_to_the_request(table):
    q = quote(req((1024, 1024), TWO_REFS, provider="replicate"), table=table)
    assert q.provider == "replicate"
    assert q.usd == 0.18


def test_quote_without_a_table_uses_the_built_in_one():
    assert quote(req(), "fal").usd == 0.05


# ----------------------------------------------------------------------------- other rules
def test_fairstack_is_per_image_whatever_the_size(table):
    small = quote(req((512, 512)), "fairstack", table=table)
    big = quote(req((2048, 2048), (ref(4096, 4096),) * 4), "fairstack", table=table)
    assert small.usd == big.usd == 0.024
    assert big.breakdown[0].usd == 0.024
    assert all(i.usd == 0 for i in big.breakdown[1:])
    assert big.rule == "per_image" and not big.approximate


def test_runapi_per_call_tiers(table):
    t2i_1k = quote(req((1024, 1024)), "runapi", table=table)
    assert t2i_1k.usd == 0.14 and t2i_1k.rule == "per_call" and not t2i_1k.approximate
    assert "1K" in t2i_1k.note
    t2i_2k = quote(req((1920, 1088)), "runapi", table=table)
    assert t2i_2k.usd == 0.24 and not t2i_2k.approximate and "2K" in t2i_2k.note
    edit_1k = quote(req((1024, 1024), TWO_REFS), "runapi", table=table)
    assert edit_1k.usd == 0.14 and not edit_1k.approximate
    assert [i.usd for i in edit_1k.breakdown] == [0.14, 0.0, 0.0]
    edit_2k = quote(req((1920, 1088), TWO_REFS), "runapi", table=table)
    assert edit_2k.usd == 0.24 and edit_2k.approximate  # the 2K editing price is not published


def test_runapi_about_one_megapixel_presets_are_1k(table):
    for w, h in ASPECT_PRESETS.values():
        assert quote(req((w, h)), "runapi", table=table).usd == 0.14, (w, h)


def test_per_call_output_above_every_tier_is_approximate():
    data = {"providers": {"x": {"rule": "per_call", "tiers": [{"label": "1K", "max_mp": 1, "usd": 0.1}]}}}
    q = quote(req((2048, 2048)), "x", table=parse_table(data))
    assert q.usd == 0.1
    assert q.approximate


def test_sandbox_is_free(table):
    q = quote(req((2048, 2048), TWO_REFS), "sandbox", table=table)
    assert q.usd == 0.0
    assert q.rule == "free"
    assert all(i.usd == 0.0 for i in q.breakdown)
    assert q.to_dict()["usd"] == 0.0


def test_openai_compatible_price_is_unknown(table):
    q = quote(req((1024, 1024), TWO_REFS), "openai-compatible", table=table)
    assert q.usd is None
    assert q.approximate
    assert q.note == UNKNOWN_NOTE == "Price unknown for this gateway; set a rate in Settings → Spending."
    assert q.rule == "unknown"
    d = q.to_dict()
    assert d["usd"] is None
    assert [i["usd"] for i in d["breakdown"]] == [None, None, None]
    assert [i["megapixels"] for i in d["breakdown"]] == [1.0, 1.0, 1.0]


def test_kie_price_is_unknown_until_a_rate_is_set(table, tmp_path):
    q = quote(req(), "kie", table=table)
    assert q.usd is None and q.approximate and "Settings" in q.note
    user = tmp_path / "prices.json"
    user.write_text(json.dumps({"schema": 1, "providers": {"kie": {"rate_usd": 0.07}}}))
    assert quote(req(), "kie", table=load_table(user)).usd == 0.07


def test_cometapi_is_quoted_from_its_own_page(table):
    # CometAPI's FLUX 2 FLEX page: "$0.008 per request" (official $0.01, −20%), whatever the size
    q = quote(req((2048, 2048), TWO_REFS), "cometapi", table=table)
    assert q.rule == "per_image"
    assert q.usd == 0.008
    assert "0.008 per request" in q.note


def test_unknown_provider_and_protocol_fallback(table):
    q = quote(req(), "my-gateway", table=table)
    assert q.usd is None and q.provider == "my-gateway" and q.rule == "unknown"
    assert "Settings" in q.note
    assert table.rule_for("my-gateway", "openai_images") is table.rule_for("openai-compatible")
    assert table.rule_for("fal-staging", "fal") is table.rule_for("fal")
    assert table.rule_for("bfl", "fal") is table.rule_for("bfl")  # the id wins over the protocol
    q = quote(req((1024, 1024), TWO_REFS), "fal-staging", table=table, protocol="fal")
    assert q.usd == 0.15 and q.provider == "fal-staging"


# ----------------------------------------------------------------------------- the data file
def test_built_in_table_lists_every_provider_with_its_source(table):
    assert builtin_prices_path() == REPO / "resources" / "prices.json"
    assert set(ALL_PROVIDERS) <= set(table.providers())
    urls = {r.provider: r.source_url for r in table}
    assert urls["fal"] == "https://fal.ai/models/fal-ai/flux-2-flex/edit/llms.txt"
    assert urls["bfl"] == urls["bfl-eu"] == urls["bfl-us"] == "https://docs.bfl.ai/quick_start/pricing.md"
    assert (
        urls["replicate"] == urls["lumenfall"] == "https://lumenfall.ai/models/black-forest-labs/flux.2-flex"
    )
    assert urls["runapi"] == "https://runapi.ai/models/flux-2/flex-image-to-image.md"
    assert urls["kie"] == "https://docs.kie.ai/market/flux2/flex-text-to-image"
    for rule in table:
        assert rule.currency == "USD"
        assert rule.checked and re.fullmatch(r"\d{4}-\d{2}-\d{2}", rule.checked)
        assert rule.origin == "built-in"
        assert rule.source_url is None or rule.source_url.startswith("https://")
        assert rule.summary
    assert table.rule_for("fal").rate_usd == 0.05
    assert table.rule_for("fairstack").rate_usd == 0.024
    assert table.rule_for("bfl-eu") == PriceRule(**{**_fields(table.rule_for("bfl")), "provider": "bfl-eu"})


def _fields(rule: PriceRule) -> dict:
    return {name: getattr(rule, name) for name in PriceRule.__slots__}


def test_raw_json_has_the_documented_shape():
    data = json.loads((REPO / "resources" / "prices.json").read_text(encoding="utf-8"))
    assert data["schema"] == 1
    for pid, entry in data["providers"].items():
        assert {"rule", "currency", "source_url", "checked", "note"} <= set(entry), pid
        assert (
            "rate_usd" in entry
            or "rates" in entry
            or "tiers" in entry
            or entry["rule"] in ("free", "unknown")
        )


def test_resources_dir_prefers_the_wheel_layout(tmp_path):
    package = tmp_path / "site" / "flexstudio"
    (package / "resources").mkdir(parents=True)
    assert resources_dir(package) == package / "resources"
    bare = tmp_path / "repo" / "flexstudio"
    bare.mkdir(parents=True)
    assert resources_dir(bare) == tmp_path / "repo" / "resources"


# ----------------------------------------------------------------------------- the user's file
def test_user_override_changes_a_rate_and_keeps_the_rest(tmp_path, table):
    user = tmp_path / "prices.json"
    user.write_text(
        json.dumps({"schema": 1, "providers": {"fal": {"rate_usd": 0.06, "checked": "2026-12-01"}}})
    )
    mine = load_table(user)
    assert quote(req((1024, 1024), TWO_REFS), "fal", table=mine).usd == 0.18
    fal = mine.rule_for("fal")
    assert fal.origin == "user" and fal.checked == "2026-12-01"
    assert fal.source_url == table.rule_for("fal").source_url
    assert mine.rule_for("bfl") == table.rule_for("bfl")
    assert mine.sources == (str(builtin_prices_path()), str(user))
    assert load_table(user) is mine  # cached while the file is unchanged


def test_user_override_is_read_again_when_it_changes(tmp_path):
    user = tmp_path / "prices.json"
    user.write_text(json.dumps({"providers": {"fal": {"rate_usd": 0.06}}}))
    assert quote(req(), "fal", table=load_table(user)).usd == 0.06
    user.write_text(json.dumps({"providers": {"fal": {"rate_usd": 0.075}}}))
    st = user.stat()
    os.utime(user, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
    assert quote(req(), "fal", table=load_table(user)).usd == 0.075


def test_user_override_can_add_a_provider_and_change_a_rule(tmp_path):
    user = tmp_path / "prices.json"
    user.write_text(
        json.dumps(
            {
                "providers": {
                    "my-gateway": {"rule": "per_mp", "rate_usd": 0.04},
                    "openai-compatible": {"rule": "per_image", "rate_usd": 0.03},
                },
                "protocols": {"openai_images": "my-gateway"},
            }
        )
    )
    mine = load_table(user)
    assert quote(req((1024, 1024), TWO_REFS), "my-gateway", table=mine).usd == 0.12
    assert quote(req(), "openai-compatible", table=mine).usd == 0.03
    assert mine.rule_for("other", "openai_images").provider == "my-gateway"


def test_missing_user_file_means_the_built_in_table(tmp_path, table):
    assert load_table(tmp_path / "nope.json") is table


@pytest.mark.parametrize(
    "content",
    [
        "{not json",
        "[1, 2]",
        json.dumps({"schema": 99, "providers": {}}),
        json.dumps({"providers": {"fal": {"rule": "per_second"}}}),
        json.dumps({"providers": {"fal": {"rate_usd": -1}}}),
        json.dumps({"providers": {"fal": {"rate_usd": "cheap"}}}),
        json.dumps({"providers": {"fal": {"currency": "EUR"}}}),
        json.dumps({"providers": {"fal": {"checked": "yesterday"}}}),
        json.dumps({"providers": {"new": {"rate_usd": 0.05}}}),  # a new id needs its rule
        json.dumps({"providers": {"runapi": {"tiers": []}}}),
        json.dumps({"providers": {"bfl": {"rates": {"first_mp_usd": 0.05}}}}),
    ],
)
def test_bad_user_file_is_bad_input(tmp_path, content):
    user = tmp_path / "prices.json"
    user.write_text(content, encoding="utf-8")
    with pytest.raises(BadInput, match="price file"):
        load_table(user)


# ----------------------------------------------------------------------------- JSON form and money
def test_to_dict_shape(table):
    d = quote(req((1024, 1024), TWO_REFS), "fal", table=table).to_dict()
    assert set(d) == {"provider", "usd", "breakdown", "approximate", "note", "rule"}
    assert d["provider"] == "fal" and d["usd"] == 0.15
    assert [set(i) for i in d["breakdown"]] == [{"item", "megapixels", "usd"}] * 3
    assert [i["item"] for i in d["breakdown"]] == ["output", "image 1", "image 2"]
    text = json.dumps({"quotes": [d]})
    assert '"usd": 0.15,' in text
    assert "0.15000000000000002" not in text


def test_money_is_clean_for_every_provider_and_shape(table):
    """No float noise anywhere: every amount has at most 6 decimals, and 4 in the JSON form."""
    refs_sets = [
        (),
        (ref(512, 512),),
        TWO_REFS,
        (ref(1500, 1500),) * 3,
        (ref(3000, 2000),) * 7,
        tuple(ref(1024 + 16 * i, 768) for i in range(10)),
    ]
    sizes = [(64, 64), (512, 512), (1024, 1024), (1360, 768), (1920, 1088), (2048, 2048), None]
    many_decimals = re.compile(r"\d\.\d{7,}")
    for provider in ALL_PROVIDERS:
        for refs in refs_sets:
            for size in sizes:
                q = quote(req(size, refs), provider, table=table)
                text = json.dumps(q.to_dict())
                assert not re.search(r"\d\.\d{5,}", text), text
                assert not many_decimals.search(repr(q.usd))
                for item in q.breakdown:
                    assert not many_decimals.search(repr(item.usd))


def test_breakdown_sums_to_the_total(table):
    for provider in ALL_PROVIDERS:
        for refs in [(), TWO_REFS, (ref(1500, 1500), ref(512, 512), ref(6000, 4000))]:
            q = quote(req((1920, 1088), refs), provider, table=table)
            assert len(q.breakdown) == 1 + len(refs)
            if q.usd is None:
                assert all(i.usd is None for i in q.breakdown)
                continue
            assert sum(round(i.usd * 1_000_000) for i in q.breakdown) == q.micro_usd
            assert q.micro_usd == round(q.usd * 1_000_000)


def test_odd_user_rates_stay_exact():
    t = parse_table({"providers": {"x": {"rule": "per_mp", "rate_usd": 0.0333333}}})
    q = quote(req((1024, 1024), (ref(1024, 1024),) * 9), "x", table=t)
    assert q.micro_usd == 33333 * 10
    assert q.usd == 0.33333
    assert q.to_dict()["usd"] == 0.3333


# ----------------------------------------------------------------------------- several providers
def test_quote_many_keeps_the_order(table):
    quotes = quote_many(req((1024, 1024), TWO_REFS), ["replicate", "fal", "sandbox"], table=table)
    assert [q.provider for q in quotes] == ["replicate", "fal", "sandbox"]
    assert [q.usd for q in quotes] == [0.18, 0.15, 0.0]


def test_total_adds_exactly(table):
    quotes = quote_many(req((1024, 1024), TWO_REFS), ["replicate", "fal", "bfl", "fairstack"], table=table)
    t = total(quotes)
    assert isinstance(t, Quote)
    assert t.usd == 0.504  # 0.18 + 0.15 + 0.15 + 0.024, with no float noise
    assert [i.item for i in t.breakdown] == ["replicate", "fal", "bfl", "fairstack"]
    assert t.approximate  # bfl is an estimate
    assert json.dumps(t.to_dict()).count("0.504") == 1


def test_total_is_unknown_when_a_price_is(table):
    t = total(quote_many(req(), ["fal", "openai-compatible", "kie"], table=table))
    assert t.usd is None
    assert t.approximate
    assert "openai-compatible" in t.note and "kie" in t.note
    assert total([]).usd == 0.0


# ----------------------------------------------------------------------------- layering
def test_pricing_imports_no_qt():
    code = (
        "import sys, flexstudio.pricing as p; p.load_table(); "
        "bad = [m for m in sys.modules if m.split('.')[0] in ('PySide6', 'qasync', 'superqt')]; "
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO, timeout=60)
