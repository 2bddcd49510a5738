"""Reference-image preparation against the generated corpus of awkward files (tests/corpus.py)."""

from __future__ import annotations

import hashlib
import sys
import threading
from concurrent.futures import Future
from io import BytesIO
from typing import Any

import pytest
from PIL import Image, ImageChops, ImageFile, ImageOps, ImageStat, JpegImagePlugin

from flexstudio.core import image_decode, images
from flexstudio.core.errors import BadInput
from flexstudio.core.image_colour import resizable
from flexstudio.core.images import PreparedCache, inspect, prepare, thumbnail, verify_output
from flexstudio.core.request import PreparedReference
from flexstudio.core.sizes import MAX_PIXELS, MEGAPIXEL
from tests.corpus import (
    BIG_JPEG_SIZE,
    BLUE,
    CORPUS,
    EXACT_SIZE,
    GREEN,
    RED,
    WHITE,
    corpus_bytes,
    png_chunk,
    raw_png,
    save,
    textured,
)

OK = sorted(n for n, c in CORPUS.items() if c.expected == "ok")
BAD = sorted(n for n, c in CORPUS.items() if c.expected == "bad_input")


def decode(data: bytes) -> Image.Image:
    im = Image.open(BytesIO(data))
    im.load()
    return im


def near(pixel: tuple[int, ...], colour: tuple[int, ...], tolerance: int = 12) -> bool:
    return all(abs(a - b) <= tolerance for a, b in zip(pixel, colour, strict=False))


def at(im: Image.Image, fx: float, fy: float) -> tuple[int, ...]:
    """The pixel at a fraction of the width and height."""
    return im.getpixel((round(fx * (im.width - 1)), round(fy * (im.height - 1))))


# ----------------------------------------------------------------------------------------- every case
@pytest.mark.parametrize("name", OK)
def test_good_files_are_inspected_and_prepared(name: str) -> None:
    data = corpus_bytes(name)
    info = inspect(data, CORPUS[name].filename)
    assert info.sha256 == hashlib.sha256(data).hexdigest()
    assert info.width > 0 and info.height > 0 and info.frames >= 1
    assert info.name == CORPUS[name].filename and info.n_bytes == len(data)
    prepared = prepare(data)
    assert prepared.source_sha256 == info.sha256
    assert prepared.mime in ("image/jpeg", "image/png", "image/webp")
    assert prepared.width % 16 == 0 and prepared.height % 16 == 0
    assert prepared.width * prepared.height <= MAX_PIXELS
    out = decode(prepared.data)
    assert out.size == (prepared.width, prepared.height)
    assert out.mode in ("RGB", "RGBA")
    assert verify_output(prepared.data)[1:] == out.size


@pytest.mark.parametrize("name", BAD)
def test_bad_files_are_refused_with_one_sentence_naming_them(name: str) -> None:
    data = corpus_bytes(name)
    filename = CORPUS[name].filename
    for call in (
        lambda: inspect(data, filename),
        lambda: prepare(data, name=filename),
        lambda: thumbnail(data, 128, filename),
    ):
        with pytest.raises(BadInput) as err:
            call()
        message = str(err.value)
        assert message.startswith(filename)
        assert message.endswith(".") and "\n" not in message


def test_the_corpus_unpacks_as_factory_and_outcome() -> None:
    factory, expected = CORPUS["jpeg"]
    assert expected == "ok" and factory() is factory()  # generated once


# ---------------------------------------------------------------------------------- format detection
def test_format_comes_from_the_bytes_not_the_name() -> None:
    info = inspect(corpus_bytes("jpeg_named_png"), "really_a_jpeg.png")
    assert (info.format, info.mime) == ("jpeg", "image/jpeg")
    with pytest.raises(BadInput, match=r"notes\.jpg is not an image"):
        inspect(corpus_bytes("text_named_jpg"), "notes.jpg")


@pytest.mark.parametrize(
    ("name", "fmt", "mime"),
    [
        ("jpeg", "jpeg", "image/jpeg"),
        ("png", "png", "image/png"),
        ("webp", "webp", "image/webp"),
        ("gif", "gif", "image/gif"),
        ("bmp", "bmp", "image/bmp"),
        ("tiff", "tiff", "image/tiff"),
        ("avif", "avif", "image/avif"),
        ("heic", "heic", "image/heic"),
    ],
)
def test_inspect_reports_format_and_mime(name: str, fmt: str, mime: str) -> None:
    info = inspect(corpus_bytes(name))
    assert (info.format, info.mime) == (fmt, mime)


def test_messages_say_what_is_wrong() -> None:
    with pytest.raises(BadInput, match="empty"):
        inspect(b"", "empty.jpg")
    with pytest.raises(BadInput, match="Photoshop"):
        inspect(corpus_bytes("psd"), "layers.psd")
    with pytest.raises(BadInput, match="ends early"):
        inspect(corpus_bytes("jpeg_truncated"), "cut.jpg")
    with pytest.raises(BadInput, match="decompression bomb"):
        inspect(corpus_bytes("png_bomb"), "bomb.png")
    with pytest.raises(BadInput, match="20,000 px a side"):
        inspect(corpus_bytes("png_huge_side"), "strip.png")
    with pytest.raises(BadInput, match=r"^The image is empty"):
        inspect(b"")


def test_inspect_reads_headers_only(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_decoding(self: ImageFile.ImageFile) -> None:
        raise AssertionError("inspect decoded pixels")

    monkeypatch.setattr(ImageFile.ImageFile, "load", no_decoding)
    for name in ("jpeg", "jpeg_24mp", "png", "png_16bit", "jpeg_exif_rot6", "gif_animated"):
        inspect(corpus_bytes(name))


def test_info_becomes_an_image_ref() -> None:
    info = inspect(corpus_bytes("jpeg_exif_rot6"), "rot6.jpg")
    ref = info.to_ref()
    assert (ref.sha256, ref.width, ref.height, ref.name, ref.mime) == (
        info.sha256,
        64,
        128,
        "rot6.jpg",
        "image/jpeg",
    )


def test_missing_pillow_heif_gives_a_clear_message(monkeypatch: pytest.MonkeyPatch) -> None:
    data = corpus_bytes("heic")
    monkeypatch.setitem(sys.modules, "pillow_heif", None)  # import fails
    monkeypatch.setattr(image_decode, "_heif_ready", None)
    with pytest.raises(BadInput, match=r"IMG_1\.HEIC is a HEIC image, but HEIC support \(the pillow-heif"):
        inspect(data, "IMG_1.HEIC")


def test_heif_opener_is_registered_once(monkeypatch: pytest.MonkeyPatch) -> None:
    pillow_heif = pytest.importorskip("pillow_heif")
    calls = []
    monkeypatch.setattr(pillow_heif, "register_heif_opener", lambda: calls.append(1))
    monkeypatch.setattr(image_decode, "_heif_ready", None)
    inspect(corpus_bytes("jpeg"))
    assert calls == []  # not needed for a JPEG
    assert image_decode.heif_available() and image_decode.heif_available()
    assert calls == [1]


# ------------------------------------------------------------------------------------------- rotation
@pytest.mark.parametrize(
    ("name", "orientation", "top", "bottom"),
    [("jpeg_exif_rot6", 6, RED, BLUE), ("jpeg_exif_rot8", 8, BLUE, RED)],
)
@pytest.mark.parametrize("max_pixels", [MAX_PIXELS, 64 * 64])
def test_exif_orientation_is_applied(
    name: str, orientation: int, top: tuple[int, ...], bottom: tuple[int, ...], max_pixels: int
) -> None:
    data = corpus_bytes(name)
    info = inspect(data)
    assert (info.width, info.height, info.orientation) == (64, 128, orientation)
    out = decode(prepare(data, max_pixels=max_pixels).data)
    assert out.height >= out.width
    assert near(at(out, 0.5, 0.1), top) and near(at(out, 0.5, 0.9), bottom)
    # the same as Pillow's own reference implementation
    reference = ImageOps.exif_transpose(decode(data))
    assert near(at(out, 0.5, 0.1), at(reference, 0.5, 0.1))


def test_rotated_big_jpeg_is_drafted_then_rotated() -> None:
    big = decode(corpus_bytes("jpeg_24mp"))
    exif = Image.Exif()
    exif[0x0112] = 6
    data = save(big, "JPEG", quality=85, exif=exif.tobytes())
    prepared = prepare(data, max_pixels=MEGAPIXEL)
    assert prepared.height > prepared.width  # upright portrait
    assert (prepared.width, prepared.height) == (832, 1248)


# ------------------------------------------------------------------------------------ colour and depth
@pytest.mark.parametrize("name", ["png_16bit", "tiff_16bit"])
def test_16_bit_greys_are_scaled_not_clipped(name: str) -> None:
    assert inspect(corpus_bytes(name)).mode.startswith("I;16")
    out = decode(prepare(corpus_bytes(name)).data)
    left, middle, right = at(out, 0, 0.5), at(out, 0.5, 0.5), at(out, 1, 0.5)
    assert near(left, (0, 0, 0), 3) and near(middle, (128, 128, 128), 4) and near(right, WHITE, 3)


def test_16_bit_rgb_keeps_its_colour() -> None:
    out = decode(prepare(corpus_bytes("png_rgb16")).data)
    assert near(at(out, 0.5, 0.5), (128, 64, 255), 4)


def test_wide_grey_modes_are_scaled() -> None:
    for mode, values, expected in (
        ("I", (0, 32768, 65535), (0, 128, 255)),
        ("I", (0, 100, 200), (0, 100, 200)),
        ("F", (0.0, 0.5, 1.0), (0, 128, 255)),
    ):
        im = Image.new(mode, (3, 1))
        for x, v in enumerate(values):
            im.putpixel((x, 0), v)
        got = tuple(resizable(im).tobytes())
        assert all(abs(a - b) <= 1 for a, b in zip(got, expected, strict=True)), (mode, got)


@pytest.mark.parametrize("name", ["jpeg_cmyk", "tiff_cmyk", "jpeg_cmyk_bad_icc"])
def test_cmyk_becomes_rgb(name: str) -> None:
    assert inspect(corpus_bytes(name)).mode == "CMYK"
    out = decode(prepare(corpus_bytes(name)).data)
    assert out.mode == "RGB"
    assert near(at(out, 0.1, 0.5), RED, 16) and near(at(out, 0.9, 0.5), GREEN, 16)


def test_cmyk_goes_through_its_icc_profile() -> None:
    out = decode(prepare(corpus_bytes("jpeg_cmyk_icc")).data)
    left, right = at(out, 0.1, 0.5), at(out, 0.9, 0.5)
    assert near(left, right, 6)  # the profile maps both inks to one colour…
    assert near(left, (130, 117, 65), 16)  # …a dull yellow-brown, not red and green


def test_rgb_with_a_foreign_profile_is_converted_to_srgb() -> None:
    data = corpus_bytes("png_rgb_swapped_icc")
    prepared = prepare(data)
    assert prepared.data != data  # the right size, but not passed through
    assert near(at(decode(prepared.data), 0.5, 0.5), GREEN, 16)


@pytest.mark.parametrize("name", ["gif_animated", "webp_animated", "png_animated"])
def test_animations_give_their_first_frame(name: str) -> None:
    assert inspect(corpus_bytes(name)).frames == 3
    prepared = prepare(corpus_bytes(name))
    assert prepared.mime == "image/jpeg"
    assert near(at(decode(prepared.data), 0.5, 0.5), RED)


@pytest.mark.parametrize("name", ["heic", "avif"])
def test_heic_and_avif_decode(name: str) -> None:
    out = decode(prepare(corpus_bytes(name)).data)
    assert out.size == (128, 64)
    assert near(at(out, 0.1, 0.5), RED, 20) and near(at(out, 0.9, 0.5), BLUE, 20)


# ---------------------------------------------------------------------------------------------- alpha
def test_palette_transparency_becomes_png_with_alpha() -> None:
    prepared = prepare(corpus_bytes("png_palette_alpha"))
    assert prepared.mime == "image/png"
    out = decode(prepared.data)
    assert out.mode == "RGBA"
    assert at(out, 0.1, 0.5)[3] == 0 and at(out, 0.9, 0.5) == (*BLUE, 255)


def test_grey_with_alpha_keeps_its_alpha() -> None:
    out = decode(prepare(corpus_bytes("png_la")).data)
    assert out.mode == "RGBA"
    assert at(out, 0, 0.5)[3] < 10 and at(out, 1, 0.5)[3] > 245
    assert near(at(out, 0.5, 0.5)[:3], (128, 128, 128), 2)


def test_alpha_is_flattened_on_white_for_jpeg() -> None:
    prepared = prepare(corpus_bytes("png_palette_alpha"), fmt="jpeg")
    assert prepared.mime == "image/jpeg"
    out = decode(prepared.data)
    assert near(at(out, 0.1, 0.5), WHITE, 4) and near(at(out, 0.9, 0.5), BLUE, 8)


def test_webp_keeps_alpha_and_opaque_rgba_becomes_jpeg() -> None:
    webp = prepare(corpus_bytes("png_palette_alpha"), fmt="webp")
    assert webp.mime == "image/webp" and decode(webp.data).mode == "RGBA"
    opaque = prepare(corpus_bytes("png_rgba_opaque"))
    assert opaque.mime == "image/jpeg"
    assert prepare(corpus_bytes("png_rgba_opaque"), fmt="png").mime == "image/png"
    assert decode(prepare(corpus_bytes("png_rgba_opaque"), fmt="png").data).mode == "RGB"


def test_unknown_output_format_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="fmt"):
        prepare(corpus_bytes("jpeg"), fmt="gif")
    assert prepare(corpus_bytes("jpeg_exif_rot6"), fmt="JPG").mime == "image/jpeg"


# ---------------------------------------------------------------------------------------------- sizes
@pytest.mark.parametrize("max_pixels", [64 * 64, 300_000, MEGAPIXEL, 2 * MEGAPIXEL, MAX_PIXELS])
@pytest.mark.parametrize("size", [(1000, 750), (333, 1999), (2000, 80), (50, 40)])
def test_prepared_sizes_follow_fit_within(max_pixels: int, size: tuple[int, int]) -> None:
    from flexstudio.core.sizes import fit_within

    prepared = prepare(save(textured(size), "PNG", compress_level=0), max_pixels=max_pixels)
    assert (prepared.width, prepared.height) == fit_within(*size, max_pixels)
    assert prepared.width % 16 == 0 and prepared.height % 16 == 0
    assert prepared.width * prepared.height <= max_pixels
    assert decode(prepared.data).size == (prepared.width, prepared.height)


def test_big_jpeg_is_decoded_at_reduced_dct_scale(monkeypatch: pytest.MonkeyPatch) -> None:
    decoded_sizes = []
    original = JpegImagePlugin.JpegImageFile.draft

    def spy(self: JpegImagePlugin.JpegImageFile, mode: str | None, size: tuple[int, int] | None):
        result = original(self, mode, size)
        decoded_sizes.append(self.size)
        return result

    monkeypatch.setattr(JpegImagePlugin.JpegImageFile, "draft", spy)
    prepared = prepare(corpus_bytes("jpeg_24mp"))
    assert (prepared.width, prepared.height) == (2496, 1664)
    assert decoded_sizes == [(BIG_JPEG_SIZE[0] // 2, BIG_JPEG_SIZE[1] // 2)]  # 1/2 scale, still ≥ target
    decoded_sizes.clear()
    prepare(corpus_bytes("jpeg_24mp"), max_pixels=MEGAPIXEL)
    assert decoded_sizes == [(BIG_JPEG_SIZE[0] // 4, BIG_JPEG_SIZE[1] // 4)]
    decoded_sizes.clear()
    prepare(corpus_bytes("jpeg"), max_pixels=MAX_PIXELS)  # no reduction needed: no draft
    assert decoded_sizes == []


@pytest.mark.parametrize("max_pixels", [MEGAPIXEL, MAX_PIXELS])
def test_drafted_result_matches_a_full_decode(max_pixels: int) -> None:
    """Decoding at 1/2 or 1/4 DCT scale gives (losslessly encoded) what the slow way gives."""
    data = corpus_bytes("jpeg_24mp")
    fast = decode(prepare(data, max_pixels=max_pixels, fmt="png").data)
    slow = decode(data).resize(fast.size, Image.Resampling.LANCZOS)
    mean_difference = ImageStat.Stat(ImageChops.difference(fast, slow)).mean
    assert max(mean_difference) < 4, mean_difference


# --------------------------------------------------------------------------------------- pass-through
@pytest.mark.parametrize(("name", "mime"), [("png_exact", "image/png"), ("jpeg_exact", "image/jpeg")])
def test_files_already_right_pass_through_unchanged(name: str, mime: str) -> None:
    data = corpus_bytes(name)
    prepared = prepare(data)
    assert prepared.data is data
    assert (prepared.mime, prepared.width, prepared.height) == (mime, *EXACT_SIZE)


def test_pass_through_only_when_nothing_would_change() -> None:
    jpeg = corpus_bytes("jpeg_exact")
    assert prepare(jpeg, fmt="png").mime == "image/png"  # another format asked for
    assert prepare(jpeg, max_pixels=MEGAPIXEL // 2).data != jpeg  # must shrink
    rgb16 = corpus_bytes("png_rgb16")  # 64×64 but 16-bit
    assert prepare(rgb16).data != rgb16
    exif = Image.Exif()
    exif[0x0112] = 3
    rotated = save(decode(jpeg), "JPEG", quality=90, exif=exif.tobytes())  # right size, upside down
    assert prepare(rotated).data != rotated
    grey = save(Image.new("L", EXACT_SIZE, 90), "PNG")  # right size, but grey
    assert prepare(grey).data != grey


# ---------------------------------------------------------------------------------------------- cache
def test_cache_returns_the_same_object_per_key() -> None:
    cache = PreparedCache()
    data = corpus_bytes("jpeg")
    sha = hashlib.sha256(data).hexdigest()
    assert cache.get(sha) is None
    first = cache.prepare(data)
    assert cache.prepare(data) is first and cache.get(sha) is first
    assert cache.prepare(data, fmt="png") is not first
    assert cache.prepare(data, max_pixels=64 * 64) is not first
    assert cache.prepare(data, fmt="JPEG") is cache.prepare(data, fmt="jpeg")
    assert len(cache) == 4


def test_cache_is_bounded_by_bytes_least_recently_used_first() -> None:
    names = ("jpeg", "png_la", "gif", "bmp", "tiff")
    sizes = {n: len(prepare(corpus_bytes(n)).data) for n in names}
    cache = PreparedCache(max_bytes=sizes["jpeg"] + sizes["png_la"] + 10)
    a = cache.prepare(corpus_bytes("jpeg"))
    cache.prepare(corpus_bytes("png_la"))
    assert cache.prepare(corpus_bytes("jpeg")) is a  # touch: png_la is now the oldest
    for n in ("gif", "bmp", "tiff"):
        cache.prepare(corpus_bytes(n))
        assert cache.total_bytes <= cache.max_bytes
    assert cache.get(hashlib.sha256(corpus_bytes("png_la")).hexdigest()) is None
    big = PreparedCache(max_bytes=10)  # an item larger than the whole cache is returned, not kept
    assert big.prepare(corpus_bytes("jpeg")).data and len(big) == 0
    cache.clear()
    assert len(cache) == 0 and cache.total_bytes == 0


def test_cache_encodes_each_key_once_across_threads(monkeypatch: pytest.MonkeyPatch) -> None:
    """Six threads ask at once: the first encodes while the other five wait for its result."""
    waiting = threading.Semaphore(0)

    class CountingFuture(Future):
        def result(self, timeout: float | None = None) -> Any:
            waiting.release()
            return super().result(timeout)

    calls = []
    real_prepare = images.prepare

    def prepare_when_all_wait(*args: Any, **kwargs: Any) -> PreparedReference:
        calls.append(1)
        for _ in range(5):
            assert waiting.acquire(timeout=10)
        return real_prepare(*args, **kwargs)

    monkeypatch.setattr(images, "Future", CountingFuture)
    monkeypatch.setattr(images, "prepare", prepare_when_all_wait)
    cache = PreparedCache()
    data = corpus_bytes("jpeg")
    results: list[PreparedReference] = []
    threads = [threading.Thread(target=lambda: results.append(cache.prepare(data))) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert len(results) == 6 and all(r is results[0] for r in results)
    assert calls == [1] and len(cache) == 1


def test_cache_does_not_keep_failures() -> None:
    cache = PreparedCache()
    for _ in range(2):
        with pytest.raises(BadInput):
            cache.prepare(corpus_bytes("jpeg_truncated"), name="cut.jpg")
    assert len(cache) == 0


# --------------------------------------------------------------------------------------- verify_output
def test_verify_output_reports_format_and_size() -> None:
    assert verify_output(corpus_bytes("jpeg")) == ("jpeg", 256, 192)
    assert verify_output(corpus_bytes("png")) == ("png", 96, 64)
    assert verify_output(corpus_bytes("webp")) == ("webp", 96, 64)


@pytest.mark.parametrize(
    "data_name",
    ["zero_bytes", "text_named_jpg", "jpeg_truncated", "png_truncated", "png_bomb", "webp_bomb", "jpeg_bomb"],
)
def test_verify_output_refuses_broken_results(data_name: str) -> None:
    with pytest.raises(BadInput, match=r"^The result image"):
        verify_output(corpus_bytes(data_name))


def test_verify_output_limit_is_64_mp() -> None:
    with pytest.raises(BadInput, match="decompression bomb"):
        verify_output(raw_png(9000, 8000, 8, 2, None))  # 72 M px declared in a few bytes


def test_verify_output_decodes_the_pixels() -> None:
    # structurally complete (IEND present, CRCs right) but the compressed pixels are garbage
    good = save(Image.new("RGB", (32, 32), RED), "PNG")
    ihdr_end = 8 + 25
    broken = good[:ihdr_end] + png_chunk(b"IDAT", b"\x78\x9c garbage, not zlib") + png_chunk(b"IEND", b"")
    inspect(broken)  # the header is fine
    with pytest.raises(BadInput, match="cannot be decoded"):
        verify_output(broken, "fal result")
    with pytest.raises(BadInput, match=r"^fal result"):
        verify_output(broken, "fal result")


# ------------------------------------------------------------------------------------------ thumbnail
def test_thumbnail_fits_the_box_upright() -> None:
    small = decode(thumbnail(corpus_bytes("jpeg_24mp"), 256))
    assert small.format == "JPEG" and small.size == (256, 171)
    rot = decode(thumbnail(corpus_bytes("jpeg_exif_rot6"), 32))
    assert rot.size == (16, 32) and near(at(rot, 0.5, 0.1), RED, 30)
    alpha = decode(thumbnail(corpus_bytes("png_palette_alpha"), 48))
    assert alpha.format == "PNG" and alpha.mode == "RGBA" and alpha.size == (48, 48)
    tiny = decode(thumbnail(corpus_bytes("gif"), 1024))  # never enlarged
    assert tiny.size == (64, 64)
    with pytest.raises(ValueError, match="size"):
        thumbnail(corpus_bytes("gif"), 0)


# ------------------------------------------------------------------------------------ Pillow's globals
def test_pillow_global_limit_is_not_needed_and_never_warns(monkeypatch: pytest.MonkeyPatch) -> None:
    """A JPEG beyond Pillow's global bomb threshold is fine (we check sizes ourselves); formats whose
    plugin re-checks that global while decoding (TIFF) are refused cleanly instead of warning."""
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 10_000)  # someone lowered it
    prepare(corpus_bytes("jpeg"))  # 49 k px: over that global, no warning
    with pytest.raises(BadInput, match="too large"):
        prepare(corpus_bytes("tiff_16bit"))  # 16 k px TIFF
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", None)
    prepare(corpus_bytes("tiff_16bit"))
    with pytest.raises(BadInput, match="decompression bomb"):
        inspect(corpus_bytes("png_bomb"))


@pytest.mark.parametrize("name", OK)
def test_every_good_file_has_a_thumbnail(name: str) -> None:
    data = corpus_bytes(name)
    info = inspect(data)
    small = decode(thumbnail(data, 48))
    assert max(small.size) == min(48, max(info.width, info.height))
    assert (small.width >= small.height) == (info.width >= info.height)


def test_png_orientation_is_read_without_decoding(monkeypatch: pytest.MonkeyPatch) -> None:
    exif = Image.Exif()
    exif[0x0112] = 6
    data = save(Image.new("RGB", (128, 64), RED), "PNG", exif=exif.tobytes())

    def no_decoding(self: ImageFile.ImageFile) -> None:
        raise AssertionError("inspect decoded pixels")

    with monkeypatch.context() as m:
        m.setattr(ImageFile.ImageFile, "load", no_decoding)
        info = inspect(data)
    assert (info.width, info.height, info.orientation) == (64, 128, 6)
    assert decode(prepare(data).data).size == (64, 128)


# ------------------------------------------------------------------------------------------- resampling
def test_banded_resampling_matches_one_pass() -> None:
    from flexstudio.core.image_resample import resample

    src = textured((900, 700))
    box = (10.5, 3.25, 880.0, 690.5)
    single = src.resize((400, 320), Image.Resampling.LANCZOS, box)
    for bands in (2, 3, 4):
        banded = resample(src, (400, 320), box, Image.Resampling.LANCZOS, bands=bands)
        assert banded.size == (400, 320)
        assert max(hi for _, hi in ImageChops.difference(single, banded).getextrema()) <= 2


def test_resampling_reduces_first_and_premultiplies_alpha() -> None:
    from flexstudio.core.image_resample import resample

    src = textured((1200, 900))
    expected = src.resize((150, 112), Image.Resampling.LANCZOS, reducing_gap=3.0)
    got = resample(src, (150, 112), None, Image.Resampling.LANCZOS, 3.0, bands=1)
    assert ImageChops.difference(expected, got).getbbox() is None  # the same algorithm as Pillow's
    # transparent red beside opaque blue: no purple fringe where they meet
    rgba = Image.new("RGBA", (400, 400), (255, 0, 0, 0))
    rgba.paste((0, 0, 255, 255), (200, 0, 400, 400))
    small = resample(rgba, (100, 100), None, Image.Resampling.LANCZOS, bands=2)
    assert small.mode == "RGBA"
    edge = small.getpixel((50, 50))
    assert edge[0] < 10 and edge[2] > 240


def test_camera_metadata_never_leaves_with_a_reference():
    """A reference already at its target size but carrying EXIF (GPS, serial) is re-encoded without it."""
    from io import BytesIO

    from PIL import Image

    from flexstudio.core.images import prepare

    exif = Image.Exif()
    exif[0x8825] = {1: "N", 2: (52.0, 31.0, 12.0)}  # GPSInfo
    exif[0xA431] = "SERIAL-12345"  # BodySerialNumber
    buf = BytesIO()
    Image.new("RGB", (512, 384), (120, 60, 30)).save(buf, "JPEG", exif=exif.tobytes())
    out = prepare(buf.getvalue(), max_pixels=4 * 1048576)
    assert out.data != buf.getvalue()
    assert b"SERIAL-12345" not in out.data and b"Exif" not in out.data[:2048]
    assert (out.width, out.height) == (512, 384)
