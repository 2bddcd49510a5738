"""Images from other generators, in their own formats, restore the values those generators recorded — and
say what FLUX.2 [flex] cannot take instead of changing it."""

from __future__ import annotations

import io
import json
from xml.sax.saxutils import quoteattr

import piexif
import piexif.helper
import pytest
from PIL import Image
from sd_parsers import ParserManager

from flexstudio.core.request import EditRequest
from flexstudio.storage.exports import export_image
from flexstudio.storage.recipes import read_recipe
from tests import generator_files as F


@pytest.fixture
def exiftool_path() -> str:
    import shutil

    path = shutil.which("exiftool")
    assert path, "exiftool is missing: scripts/setup.sh --test installs it (libimage-exiftool-perl)"
    return path


SEED_NOTE = "is left out: FLUX.2 [flex] takes 0–4294967295."

# name → (file, source, sd-parsers' name for it, (prompt, steps, guidance, seed, size), fields, note fragments)
CASES = {
    "flux1-dev-checkpoint": (
        F.comfy_png(F.FLUX1_DEV_CHECKPOINT),
        "comfyui",
        "COMFYUI",
        (F.FLUX_DEV_PROMPT, 20, 3.5, None, (1024, 1024)),
        {"prompt", "steps", "guidance", "size"},
        [f"Seed 972054013131368 {SEED_NOTE}"],
    ),
    "flux1-dev-custom-sampler": (
        F.comfy_png(F.FLUX1_DEV_CUSTOM),
        "comfyui",
        "COMFYUI",
        (F.FLUX1_DEV_CUSTOM["6"]["inputs"]["text"], 28, 3.5, 3141592653, (1216, 832)),
        {"prompt", "steps", "guidance", "seed", "size"},
        [],
    ),
    "flux1-schnell": (
        F.comfy_png(F.FLUX1_SCHNELL),
        "comfyui",
        "COMFYUI",
        ("a fox in the snow, morning light", 4, 5.0, 173805153958730 % 2**32, (1024, 768)),
        {"prompt", "steps", "seed", "size"},
        ["Guidance 1 is left out: FLUX.2 [flex] takes 1.5–10."],
    ),
    "flux1-kontext": (
        F.comfy_png(F.FLUX1_KONTEXT),
        "comfyui",
        "COMFYUI",
        (F.KONTEXT_PROMPT, 20, 2.5, 118005417, None),
        {"prompt", "steps", "guidance", "seed"},
        ["The graph starts from rabbit.jpg"],
    ),
    "flux2-dev": (
        F.comfy_png(F.FLUX2_DEV),
        "comfyui",
        "COMFYUI",
        (F.FLUX2_PROMPT, 20, 4.0, 2718281828, (1248, 832)),
        {"prompt", "steps", "guidance", "seed", "size"},
        [],
    ),
    "sdxl-base-refiner": (
        F.comfy_png(F.SDXL_REFINER),
        "comfyui",
        "COMFYUI",
        (F.SDXL_PROMPT, 25, 8.0, None, (1024, 1024)),
        {"prompt", "steps", "guidance", "size"},
        [
            "made in 2 sampling passes; these are the settings of the first (KSamplerAdvanced node 10)",
            f"Seed 721897303308196 {SEED_NOTE}",
            "The negative prompt (“text, watermark”) is left out",
            "The sampler (dpmpp_2m, karras) is left out",
        ],
    ),
    "a1111-png": (
        F.png({"parameters": F.A1111_TEXT}),
        "a1111",
        "AUTOMATIC1111",
        ("masterpiece, a knight in ornate armour\nstanding in the rain", 50, 5.0, 1234567890, (832, 1216)),
        {"prompt", "seed", "size"},
        [
            "The negative prompt (“lowres, bad hands, blurry, watermark”) is left out",
            "Steps 150 is left out: FLUX.2 [flex] takes 1–50.",
            "Guidance 12 is left out",
            "The sampler (DPM++ 2M, Karras) is left out",
        ],
    ),
    "a1111-jpeg": (
        F.a1111_jpeg(F.A1111_TEXT),
        "a1111",
        "AUTOMATIC1111",
        ("masterpiece, a knight in ornate armour\nstanding in the rain", 50, 5.0, 1234567890, (832, 1216)),
        {"prompt", "seed", "size"},
        ["Steps 150 is left out"],
    ),
    "fooocus": (
        F.png({"parameters": json.dumps(F.FOOOCUS), "fooocus_scheme": "fooocus"}),
        "fooocus",
        "FOOOCUS",
        ("a red fox in the snow", 30, 4.0, 1234567890, (1152, 896)),
        {"prompt", "steps", "guidance", "seed", "size"},
        ["The sampler (dpmpp_2m_sde_gpu, karras) is left out", "The Fooocus styles"],
    ),
    "invokeai-metadata": (
        F.png(
            {
                "invokeai_metadata": json.dumps(F.INVOKEAI_METADATA),
                "invokeai_graph": json.dumps({"id": "sdxl_graph", "nodes": {}}),
            }
        ),
        "invokeai",
        "INVOKEAI",
        ("a cozy cabin in the woods, snow, warm windows", 30, 6.5, 3172843227, (1024, 1024)),
        {"prompt", "steps", "guidance", "seed", "size"},
        ["The negative prompt (“blurry”) is left out", "The sampler (dpmpp_2m_k) is left out"],
    ),
    "invokeai-sd-metadata": (
        F.png({"sd-metadata": json.dumps(F.SD_METADATA), "Dream": F.DREAM}),
        "invokeai",
        "INVOKEAI",
        ("a lighthouse at dawn", 40, 7.5, 2512843690, (768, 512)),
        {"prompt", "steps", "guidance", "seed", "size"},
        ["The negative prompt (“fog, people”) is left out"],
    ),
    "invokeai-dream": (
        F.png({"Dream": F.DREAM}),
        "invokeai",
        "INVOKEAI",
        ("a lighthouse at dawn", 40, 7.5, 2512843690, (768, 512)),
        {"prompt", "steps", "guidance", "seed", "size"},
        ["The sampler (k_euler_a) is left out"],
    ),
    "novelai": (
        F.novelai_png(),
        "novelai",
        "NOVELAI",
        (F.NOVELAI_PROMPT, 28, 5.0, 2109657917, (832, 1216)),
        {"prompt", "steps", "guidance", "seed", "size"},
        [
            "The negative prompt (“lowres, bad anatomy, bad hands”) is left out",
            "The sampler (k_euler_ancestral, karras) is left out",
        ],
    ),
}


@pytest.mark.parametrize("name", list(CASES))
def test_generator_files_restore_what_they_recorded(name):
    data, source, sd_name, (prompt, steps, guidance, seed, size), fields, notes = CASES[name]
    # the fixture is the generator's real format: the readers designers use recognise it as that generator
    seen = ParserManager().parse(io.BytesIO(data))
    assert seen is not None and seen.generator.name == sd_name
    r = read_recipe(data)
    assert r is not None and r.source == source
    assert (r.request.prompt, r.request.steps, r.request.guidance, r.request.seed, r.request.size) == (
        prompt,
        steps,
        guidance,
        seed,
        size,
    )
    assert r.fields == fields  # what was not read stays the window's own
    for fragment in notes:
        assert any(fragment in n for n in r.notes), (fragment, r.notes)
    if not notes:
        assert r.notes == ()
    assert r.to_dict()["request"]["prompt"] == prompt


def test_comfyui_takes_the_pass_behind_the_save_node_not_the_first_text_node():
    graph = dict(F.SDXL_REFINER)
    # the negative prompt's node listed first, and an unrelated sampler feeding nothing
    graph = {
        "7": graph["7"],
        **{k: v for k, v in graph.items() if k != "7"},
        "90": {
            "class_type": "KSampler",
            "inputs": {
                "seed": 5,
                "steps": 3,
                "cfg": 2.0,
                "sampler_name": "euler",
                "scheduler": "simple",
                "positive": ["7", 0],
                "negative": ["7", 0],
                "latent_image": ["5", 0],
            },
        },
    }
    r = read_recipe(F.comfy_png(graph))
    assert r.request.prompt == F.SDXL_PROMPT and r.request.steps == 25


def test_comfyui_values_behind_primitive_nodes_and_hostile_graphs():
    graph = json.loads(json.dumps(F.FLUX2_DEV))
    graph["25"]["inputs"]["noise_seed"] = ["60", 0]
    graph["6"]["inputs"]["text"] = ["61", 0]
    graph["60"] = {"class_type": "PrimitiveInt", "inputs": {"value": 77}}
    graph["61"] = {"class_type": "PrimitiveStringMultiline", "inputs": {"value": "from a string node"}}
    r = read_recipe(F.comfy_png(graph))
    assert (r.request.prompt, r.request.seed) == ("from a string node", 77)
    # a cycle, links to nodes that do not exist, junk values: no hang, no crash
    cyclic = {
        "1": {"class_type": "SaveImage", "inputs": {"images": ["2", 0]}},
        "2": {"class_type": "VAEDecode", "inputs": {"samples": ["3", 0]}},
        "3": {
            "class_type": "KSampler",
            "inputs": {"seed": "x", "steps": True, "latent_image": ["3", 0], "positive": ["99", 0]},
        },
    }
    assert read_recipe(F.comfy_png(cyclic)) is None
    assert read_recipe(F.png({"prompt": "[1, 2, 3]"})) is None
    assert read_recipe(F.png({"prompt": "{not json"})) is None


def test_a1111_text_written_by_flexstudio_restores_its_own_fields():
    text = (
        "Recolour the chair\nSteps: 28, Sampler: FLUX.2 [flex], CFG scale: 3.5, Seed: 4000000000, Size: 1024x768, "
        "Model: flux-2-flex, Provider: fal.ai, Safety tolerance: 4, Prompt upsampling: off, "
        'References: "d60a11111111, 956c22222222", FlexStudio job: j1'
    )
    r = read_recipe(F.png({"parameters": text}), providers={"fal.ai": "fal", "fal": "fal"})
    assert r.source == "a1111" and r.notes == ()
    q = r.request
    assert (q.steps, q.guidance, q.seed, q.size, q.safety, q.prompt_upsampling, q.provider) == (
        28,
        3.5,
        4000000000,
        (1024, 768),
        4,
        False,
        "fal",
    )
    assert {"safety", "prompt_upsampling", "provider"} <= r.fields
    r = read_recipe(F.png({"parameters": text}))  # no provider list: the provider is named, not guessed
    assert "provider" not in r.fields and any("fal.ai" in n for n in r.notes)


def _exempi_style_jpeg(request: EditRequest, tmp_path) -> bytes:
    """An export after an XMP rewrite by Adobe's toolkit (Exempi): the simple properties become attributes
    of rdf:Description, and the EXIF UserComment is rewritten with the ASCII character code."""
    buf = io.BytesIO()
    Image.new("RGB", (16, 16)).save(buf, "JPEG")
    ours = export_image(buf.getvalue(), "image/jpeg", tmp_path, request, stem="orig").path
    from flexstudio.storage import xmp as X

    with Image.open(ours) as im:
        fields = X.read_fields(im.info["xmp"])
    attrs = " ".join(f"flexstudio:{k}={quoteattr(v, {chr(10): '&#xA;'})}" for k, v in fields.items())
    packet = (
        '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>\n'
        '<x:xmpmeta xmlns:x="adobe:ns:meta/" x:xmptk="XMP Core 6.0.0">\n'
        ' <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">\n'
        f'  <rdf:Description rdf:about="" xmlns:flexstudio="https://flexstudio.app/ns/1.0/"\n   {attrs}/>\n'
        ' </rdf:RDF>\n</x:xmpmeta>\n<?xpacket end="w"?>'
    ).encode()
    exif = piexif.dump(
        {
            "Exif": {
                piexif.ExifIFD.UserComment: piexif.helper.UserComment.dump(
                    fields["parameters"], encoding="ascii"
                )
            }
        }
    )
    plain = io.BytesIO()
    Image.new("RGB", (16, 16)).save(plain, "JPEG", exif=exif, xmp=packet)
    return plain.getvalue()


def test_flexstudio_xmp_rewritten_as_attributes_still_restores_everything(tmp_path):
    req = EditRequest(
        prompt='Say "hi" & <wave>\nsecond line',
        steps=12,
        guidance=2.5,
        seed=9,
        size=(512, 512),
        provider="bfl",
        safety=3,
    )
    data = _exempi_style_jpeg(req, tmp_path)
    r = read_recipe(data)
    assert r is not None and r.source == "flexstudio" and r.request == req


def test_only_an_ascii_user_comment_left_still_gives_the_a1111_values(tmp_path):
    req = EditRequest(prompt="a plain prompt", steps=12, guidance=2.5, seed=9, size=(512, 512))
    data = _exempi_style_jpeg(req, tmp_path)
    with Image.open(io.BytesIO(data)) as im:
        exif = im.info["exif"]
    bare = io.BytesIO()
    Image.new("RGB", (16, 16)).save(bare, "JPEG", exif=exif)  # the XMP is gone
    r = read_recipe(bare.getvalue())
    assert r.source == "a1111"
    assert (r.request.prompt, r.request.steps, r.request.guidance, r.request.seed, r.request.size) == (
        "a plain prompt",
        12,
        2.5,
        9,
        (512, 512),
    )


def test_xmp_with_entities_is_refused_and_junk_gives_none():
    bomb = (
        '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;">]>'
        '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        '<rdf:Description xmlns:flexstudio="https://flexstudio.app/ns/1.0/" flexstudio:parameters="&b;"/>'
        "</rdf:RDF></x:xmpmeta>"
    )
    buf = io.BytesIO()
    Image.new("RGB", (8, 8)).save(buf, "JPEG", xmp=bomb.encode())
    assert read_recipe(buf.getvalue()) is None
    assert read_recipe(F.png({"parameters": ""})) is None
    assert read_recipe(F.png({"Comment": "{}", "Software": "NovelAI"})) is None
    assert read_recipe(F.png({"invokeai_metadata": "[]"})) is None


def _late_text_png(key: str, text: str) -> bytes:
    """A PNG whose text chunk comes after the image data (allowed by the PNG spec; some tools append)."""
    import struct
    import zlib

    data = F.png({})
    chunk = key.encode("latin-1") + b"\x00" + text.encode("latin-1")
    chunk = struct.pack(">I", len(chunk)) + b"tEXt" + chunk + struct.pack(">I", zlib.crc32(b"tEXt" + chunk))
    iend = data.rindex(b"IEND") - 4
    return data[:iend] + chunk + data[iend:]


def test_text_after_the_image_data_is_read_without_decoding_the_pixels(monkeypatch):
    from PIL import PngImagePlugin

    late = _late_text_png(
        "parameters", "a red door\nSteps: 20, Sampler: Euler, CFG scale: 3, Seed: 5, Size: 512x512"
    )
    plain = F.png({})

    def no_decoding(self):
        raise AssertionError("read_recipe decoded the pixels")

    monkeypatch.setattr(PngImagePlugin.PngImageFile, "load", no_decoding)
    r = read_recipe(late)
    assert (r.source, r.request.prompt, r.request.seed) == ("a1111", "a red door", 5)
    assert read_recipe(plain) is None  # a plain PNG, the common drop: nothing decoded either


def test_fooocus_in_a_jpeg_and_in_its_a1111_scheme():
    jpeg = F.a1111_jpeg(json.dumps(F.FOOOCUS))  # Fooocus puts its JSON in the EXIF UserComment of a JPEG
    r = read_recipe(jpeg)
    assert r.source == "fooocus" and (r.request.prompt, r.request.seed, r.request.size) == (
        "a red fox in the snow",
        1234567890,
        (1152, 896),
    )
    a1111_scheme = (
        "a red fox in the snow\nNegative prompt: \nSteps: 30, Sampler: DPM++ 2M SDE Karras, Seed: 1234567890, "
        "Size: 1152x896, CFG scale: 4, Sharpness: 2, Version: Fooocus v2.5.5"
    )
    r = read_recipe(F.png({"parameters": a1111_scheme, "fooocus_scheme": "a1111"}))
    assert r.source == "fooocus" and (r.request.steps, r.request.guidance) == (30, 4.0)


def test_exiftool_reads_both_fields_of_the_exempi_style_rewrite(tmp_path, exiftool_path):
    import subprocess

    req = EditRequest(prompt="a plain prompt", steps=12, guidance=2.5, seed=9, size=(512, 512))
    path = tmp_path / "rewritten.jpg"
    path.write_bytes(_exempi_style_jpeg(req, tmp_path))
    out = subprocess.run(
        [exiftool_path, "-j", "-a", "-G1", str(path)], capture_output=True, text=True, check=True
    )
    tags = json.loads(out.stdout)[0]
    assert tags["ExifIFD:UserComment"].startswith("a plain prompt\nSteps: 12")
    assert json.loads(tags["XMP-flexstudio:Recipe"])["request"]["seed"] == 9
    assert read_recipe(path.read_bytes()).request == req
