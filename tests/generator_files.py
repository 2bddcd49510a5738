"""Images in each generator's own format, built the way those generators write them: the PNG text chunks
(keys and JSON shapes as ComfyUI, A1111, Fooocus, InvokeAI and NovelAI write them) and A1111's JPEG EXIF
(piexif, as ``modules/images.py`` does). The ComfyUI API graphs are shaped like the official examples
(FLUX.1 dev with a checkpoint and with SamplerCustomAdvanced, FLUX.1 schnell, FLUX.1 Kontext dev, FLUX.2
dev, SDXL base + refiner)."""

from __future__ import annotations

import io
import json
from typing import Any

import piexif
import piexif.helper
from PIL import Image, PngImagePlugin


def png(
    chunks: dict[str, str], size: tuple[int, int] = (16, 16), *, compressed: tuple[str, ...] = ()
) -> bytes:
    meta = PngImagePlugin.PngInfo()
    for k, v in chunks.items():
        meta.add_text(k, v, zip=k in compressed)
    buf = io.BytesIO()
    Image.new("RGB", size, (40, 90, 160)).save(buf, "PNG", pnginfo=meta)
    return buf.getvalue()


def comfy_png(graph: dict[str, Any]) -> bytes:
    """ComfyUI's SaveImage: ``prompt`` (the API graph) and ``workflow`` (the editor's graph) tEXt chunks."""
    workflow = {
        "last_node_id": max(int(k) for k in graph),
        "nodes": [{"id": int(k), "type": v["class_type"]} for k, v in graph.items()],
        "links": [],
        "version": 0.4,
    }
    return png({"prompt": json.dumps(graph), "workflow": json.dumps(workflow)})


def a1111_jpeg(parameters: str) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (16, 16), (200, 30, 30)).save(buf, "JPEG", quality=90)
    exif = piexif.dump(
        {"Exif": {piexif.ExifIFD.UserComment: piexif.helper.UserComment.dump(parameters, encoding="unicode")}}
    )
    out = io.BytesIO()
    piexif.insert(exif, buf.getvalue(), out)
    return out.getvalue()


# ---------------------------------------------------------------------- ComfyUI (API format)
FLUX_DEV_PROMPT = (
    "cute anime girl with massive fluffy fennec ears and a big fluffy tail blonde messy long hair "
    "blue eyes wearing a maid outfit"
)

FLUX1_DEV_CHECKPOINT = {
    "6": {"class_type": "CLIPTextEncode", "inputs": {"text": FLUX_DEV_PROMPT, "clip": ["30", 1]}},
    "8": {"class_type": "VAEDecode", "inputs": {"samples": ["31", 0], "vae": ["30", 2]}},
    "9": {"class_type": "SaveImage", "inputs": {"filename_prefix": "ComfyUI", "images": ["8", 0]}},
    "27": {"class_type": "EmptySD3LatentImage", "inputs": {"width": 1024, "height": 1024, "batch_size": 1}},
    "30": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": "flux1-dev-fp8.safetensors"}},
    "31": {
        "class_type": "KSampler",
        "inputs": {
            "seed": 972054013131368,
            "steps": 20,
            "cfg": 1.0,
            "sampler_name": "euler",
            "scheduler": "simple",
            "denoise": 1.0,
            "model": ["30", 0],
            "positive": ["35", 0],
            "negative": ["33", 0],
            "latent_image": ["27", 0],
        },
    },
    "33": {"class_type": "CLIPTextEncode", "inputs": {"text": "", "clip": ["30", 1]}},
    "35": {"class_type": "FluxGuidance", "inputs": {"guidance": 3.5, "conditioning": ["6", 0]}},
}

FLUX1_DEV_CUSTOM = {
    "6": {
        "class_type": "CLIPTextEncode",
        "inputs": {
            "text": "a bottle with a rainbow galaxy inside it on top of a wooden table",
            "clip": ["11", 0],
        },
    },
    "8": {"class_type": "VAEDecode", "inputs": {"samples": ["13", 0], "vae": ["10", 0]}},
    "9": {"class_type": "SaveImage", "inputs": {"filename_prefix": "ComfyUI", "images": ["8", 0]}},
    "10": {"class_type": "VAELoader", "inputs": {"vae_name": "ae.safetensors"}},
    "11": {
        "class_type": "DualCLIPLoader",
        "inputs": {
            "clip_name1": "t5xxl_fp16.safetensors",
            "clip_name2": "clip_l.safetensors",
            "type": "flux",
        },
    },
    "12": {
        "class_type": "UNETLoader",
        "inputs": {"unet_name": "flux1-dev.safetensors", "weight_dtype": "default"},
    },
    "13": {
        "class_type": "SamplerCustomAdvanced",
        "inputs": {
            "noise": ["25", 0],
            "guider": ["22", 0],
            "sampler": ["16", 0],
            "sigmas": ["17", 0],
            "latent_image": ["27", 0],
        },
    },
    "16": {"class_type": "KSamplerSelect", "inputs": {"sampler_name": "euler"}},
    "17": {
        "class_type": "BasicScheduler",
        "inputs": {"scheduler": "simple", "steps": 28, "denoise": 1.0, "model": ["30", 0]},
    },
    "22": {"class_type": "BasicGuider", "inputs": {"model": ["30", 0], "conditioning": ["26", 0]}},
    "25": {"class_type": "RandomNoise", "inputs": {"noise_seed": 3141592653}},
    "26": {"class_type": "FluxGuidance", "inputs": {"guidance": 3.5, "conditioning": ["6", 0]}},
    "27": {"class_type": "EmptySD3LatentImage", "inputs": {"width": 1216, "height": 832, "batch_size": 1}},
    "30": {
        "class_type": "ModelSamplingFlux",
        "inputs": {"max_shift": 1.15, "base_shift": 0.5, "width": 1216, "height": 832, "model": ["12", 0]},
    },
}

FLUX1_SCHNELL = {
    "6": {
        "class_type": "CLIPTextEncode",
        "inputs": {"text": "a fox in the snow, morning light", "clip": ["30", 1]},
    },
    "8": {"class_type": "VAEDecode", "inputs": {"samples": ["31", 0], "vae": ["30", 2]}},
    "9": {"class_type": "SaveImage", "inputs": {"filename_prefix": "ComfyUI", "images": ["8", 0]}},
    "27": {"class_type": "EmptySD3LatentImage", "inputs": {"width": 1024, "height": 768, "batch_size": 1}},
    "30": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": "flux1-schnell-fp8.safetensors"}},
    "31": {
        "class_type": "KSampler",
        "inputs": {
            "seed": 173805153958730 % 2**32,
            "steps": 4,
            "cfg": 1.0,
            "sampler_name": "euler",
            "scheduler": "simple",
            "denoise": 1.0,
            "model": ["30", 0],
            "positive": ["6", 0],
            "negative": ["33", 0],
            "latent_image": ["27", 0],
        },
    },
    "33": {"class_type": "CLIPTextEncode", "inputs": {"text": "", "clip": ["30", 1]}},
}

KONTEXT_PROMPT = "change the background to a beach at sunset, keep the rabbit exactly as it is"
FLUX1_KONTEXT = {
    "6": {"class_type": "CLIPTextEncode", "inputs": {"text": KONTEXT_PROMPT, "clip": ["38", 0]}},
    "8": {"class_type": "VAEDecode", "inputs": {"samples": ["31", 0], "vae": ["39", 0]}},
    "31": {
        "class_type": "KSampler",
        "inputs": {
            "seed": 118005417,
            "steps": 20,
            "cfg": 1.0,
            "sampler_name": "euler",
            "scheduler": "simple",
            "denoise": 1.0,
            "model": ["37", 0],
            "positive": ["35", 0],
            "negative": ["135", 0],
            "latent_image": ["124", 0],
        },
    },
    "35": {"class_type": "FluxGuidance", "inputs": {"guidance": 2.5, "conditioning": ["177", 0]}},
    "37": {
        "class_type": "UNETLoader",
        "inputs": {"unet_name": "flux1-dev-kontext_fp8_scaled.safetensors", "weight_dtype": "default"},
    },
    "38": {
        "class_type": "DualCLIPLoader",
        "inputs": {
            "clip_name1": "clip_l.safetensors",
            "clip_name2": "t5xxl_fp8_e4m3fn_scaled.safetensors",
            "type": "flux",
        },
    },
    "39": {"class_type": "VAELoader", "inputs": {"vae_name": "ae.safetensors"}},
    "42": {"class_type": "FluxKontextImageScale", "inputs": {"image": ["142", 0]}},
    "124": {"class_type": "VAEEncode", "inputs": {"pixels": ["42", 0], "vae": ["39", 0]}},
    "135": {"class_type": "ConditioningZeroOut", "inputs": {"conditioning": ["6", 0]}},
    "136": {"class_type": "SaveImage", "inputs": {"filename_prefix": "ComfyUI", "images": ["8", 0]}},
    "142": {"class_type": "LoadImage", "inputs": {"image": "rabbit.jpg"}},
    "177": {"class_type": "ReferenceLatent", "inputs": {"conditioning": ["6", 0], "latent": ["124", 0]}},
}

FLUX2_PROMPT = "cute anime girl with a tiny dragon on her shoulder, watercolour"
FLUX2_DEV = {
    "6": {"class_type": "CLIPTextEncode", "inputs": {"text": FLUX2_PROMPT, "clip": ["38", 0]}},
    "8": {"class_type": "VAEDecode", "inputs": {"samples": ["13", 0], "vae": ["10", 0]}},
    "9": {"class_type": "SaveImage", "inputs": {"filename_prefix": "Flux2", "images": ["8", 0]}},
    "10": {"class_type": "VAELoader", "inputs": {"vae_name": "flux2-vae.safetensors"}},
    "12": {
        "class_type": "UNETLoader",
        "inputs": {"unet_name": "flux2_dev_fp8mixed.safetensors", "weight_dtype": "default"},
    },
    "13": {
        "class_type": "SamplerCustomAdvanced",
        "inputs": {
            "noise": ["25", 0],
            "guider": ["22", 0],
            "sampler": ["16", 0],
            "sigmas": ["48", 0],
            "latent_image": ["47", 0],
        },
    },
    "16": {"class_type": "KSamplerSelect", "inputs": {"sampler_name": "euler"}},
    "22": {"class_type": "BasicGuider", "inputs": {"model": ["12", 0], "conditioning": ["26", 0]}},
    "25": {"class_type": "RandomNoise", "inputs": {"noise_seed": 2718281828}},
    "26": {"class_type": "FluxGuidance", "inputs": {"guidance": 4.0, "conditioning": ["6", 0]}},
    "38": {
        "class_type": "CLIPLoader",
        "inputs": {
            "clip_name": "mistral_3_small_flux2_bf16.safetensors",
            "type": "flux2",
            "device": "default",
        },
    },
    "47": {"class_type": "EmptyFlux2LatentImage", "inputs": {"width": 1248, "height": 832, "batch_size": 1}},
    "48": {"class_type": "Flux2Scheduler", "inputs": {"steps": 20, "width": 1248, "height": 832}},
}

SDXL_PROMPT = "evening sunset scenery blue sky nature, glass bottle with a galaxy in it"
SDXL_REFINER = {
    "4": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": "sd_xl_base_1.0.safetensors"}},
    "5": {"class_type": "EmptyLatentImage", "inputs": {"width": 1024, "height": 1024, "batch_size": 1}},
    "6": {"class_type": "CLIPTextEncode", "inputs": {"text": SDXL_PROMPT, "clip": ["4", 1]}},
    "7": {"class_type": "CLIPTextEncode", "inputs": {"text": "text, watermark", "clip": ["4", 1]}},
    "10": {
        "class_type": "KSamplerAdvanced",
        "inputs": {
            "add_noise": "enable",
            "noise_seed": 721897303308196,
            "steps": 25,
            "cfg": 8.0,
            "sampler_name": "dpmpp_2m",
            "scheduler": "karras",
            "start_at_step": 0,
            "end_at_step": 20,
            "return_with_leftover_noise": "enable",
            "model": ["4", 0],
            "positive": ["6", 0],
            "negative": ["7", 0],
            "latent_image": ["5", 0],
        },
    },
    "11": {
        "class_type": "KSamplerAdvanced",
        "inputs": {
            "add_noise": "disable",
            "noise_seed": 0,
            "steps": 25,
            "cfg": 8.0,
            "sampler_name": "dpmpp_2m",
            "scheduler": "karras",
            "start_at_step": 20,
            "end_at_step": 10000,
            "return_with_leftover_noise": "disable",
            "model": ["12", 0],
            "positive": ["15", 0],
            "negative": ["16", 0],
            "latent_image": ["10", 0],
        },
    },
    "12": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": "sd_xl_refiner_1.0.safetensors"}},
    "15": {"class_type": "CLIPTextEncode", "inputs": {"text": SDXL_PROMPT, "clip": ["12", 1]}},
    "16": {"class_type": "CLIPTextEncode", "inputs": {"text": "text, watermark", "clip": ["12", 1]}},
    "17": {"class_type": "VAEDecode", "inputs": {"samples": ["11", 0], "vae": ["12", 2]}},
    "19": {"class_type": "SaveImage", "inputs": {"filename_prefix": "ComfyUI", "images": ["17", 0]}},
}

# ---------------------------------------------------------------------- A1111
A1111_TEXT = (
    "masterpiece, a knight in ornate armour\nstanding in the rain\n"
    "Negative prompt: lowres, bad hands,\nblurry, watermark\n"
    "Steps: 150, Sampler: DPM++ 2M, Schedule type: Karras, CFG scale: 12, Seed: 1234567890, Size: 832x1216, "
    'Model hash: 31e35c80fc, Model: sd_xl_base_1.0, Lora hashes: "detail: 3a4b5c6d7e8f, style: 9f8e7d6c5b4a", '
    "Version: v1.10.1"
)

# ---------------------------------------------------------------------- Fooocus
FOOOCUS = {
    "adm_guidance": "(1.5, 0.8, 0.3)",
    "base_model": "juggernautXL_v8Rundiffusion.safetensors",
    "base_model_hash": "aeb7e9e689",
    "clip_skip": 2,
    "full_negative_prompt": ["(worst quality, low quality)"],
    "full_prompt": ["a red fox in the snow, cinematic, highly detailed"],
    "guidance_scale": 4,
    "loras": [["sd_xl_offset_example-lora_1.0.safetensors", 0.1, "4852686128"]],
    "metadata_scheme": "fooocus",
    "negative_prompt": "",
    "performance": "Speed",
    "prompt": "a red fox in the snow",
    "refiner_model": "None",
    "refiner_switch": 0.5,
    "resolution": "(1152, 896)",
    "sampler": "dpmpp_2m_sde_gpu",
    "scheduler": "karras",
    "seed": "1234567890",
    "sharpness": 2,
    "steps": 30,
    "styles": "['Fooocus V2', 'Fooocus Enhance', 'Fooocus Sharp']",
    "vae": "Default (model)",
    "version": "Fooocus v2.5.5",
}

# ---------------------------------------------------------------------- InvokeAI
INVOKEAI_METADATA = {
    "generation_mode": "sdxl_txt2img",
    "positive_prompt": "a cozy cabin in the woods, snow, warm windows",
    "negative_prompt": "blurry",
    "width": 1024,
    "height": 1024,
    "seed": 3172843227,
    "rand_device": "cpu",
    "cfg_scale": 6.5,
    "cfg_rescale_multiplier": 0,
    "steps": 30,
    "scheduler": "dpmpp_2m_k",
    "model": {
        "key": "7dd0b5ca-5a8b-4fb3-8e47-3c0a8b4f6f73",
        "hash": "blake3:b0c8a5f9",
        "name": "Juggernaut XL v9",
        "base": "sdxl",
        "type": "main",
    },
    "app_version": "4.2.4",
}

SD_METADATA = {
    "model": "stable diffusion",
    "model_weights": "stable-diffusion-1.5",
    "model_hash": "cc6cb27103417325ff94f52b7a5d2dde45a7515b25c255d8e396c90014281516",
    "app_id": "invoke-ai/InvokeAI",
    "app_version": "2.2.5",
    "image": {
        "prompt": [{"prompt": "a lighthouse at dawn [fog, people]", "weight": 1.0}],
        "steps": 40,
        "cfg_scale": 7.5,
        "threshold": 0,
        "perlin": 0,
        "height": 512,
        "width": 768,
        "seed": 2512843690,
        "seamless": False,
        "hires_fix": False,
        "type": "txt2img",
        "postprocessing": None,
        "sampler": "k_euler_a",
        "variations": [],
    },
}
DREAM = '"a lighthouse at dawn [fog, people]" -s 40 -S 2512843690 -W 768 -H 512 -C 7.5 -A k_euler_a'

# ---------------------------------------------------------------------- NovelAI
NOVELAI_PROMPT = "1girl, silver hair, night city, neon, rain, masterpiece"
NOVELAI_COMMENT = {
    "prompt": NOVELAI_PROMPT,
    "steps": 28,
    "height": 1216,
    "width": 832,
    "scale": 5.0,
    "uncond_scale": 0.0,
    "cfg_rescale": 0.0,
    "seed": 2109657917,
    "n_samples": 1,
    "hide_debug_overlay": False,
    "noise_schedule": "karras",
    "legacy_v3_extend": False,
    "sampler": "k_euler_ancestral",
    "controlnet_strength": 1.0,
    "sm": False,
    "sm_dyn": False,
    "dynamic_thresholding": False,
    "skip_cfg_above_sigma": None,
    "prefer_brownian": True,
    "version": 1,
    "uc": "lowres, bad anatomy, bad hands",
    "request_type": "PromptGenerateRequest",
    "signed_hash": "tz3X0Y0Zq4k",
}


def novelai_png() -> bytes:
    return png(
        {
            "Title": "AI generated image",
            "Description": NOVELAI_PROMPT,
            "Software": "NovelAI",
            "Source": "NovelAI Diffusion V4.5 4BDE2A90",
            "Generation time": "6.4",
            "Comment": json.dumps(NOVELAI_COMMENT),
        }
    )
