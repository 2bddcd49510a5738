"""ComfyUI's API-format graph (the PNG ``prompt`` chunk), followed from the node that saved the image back:
the sampler that made it, its positive conditioning through the links, its noise, scheduler, guidance and
latent. With several sampling passes (base + refiner, a hires pass) the first pass is taken, with a note.

A graph is ``{node_id: {"class_type": str, "inputs": {name: value | [node_id, output_index]}}}``.
"""

from __future__ import annotations

from typing import Any

_SAVE_HINTS = ("SaveImage", "PreviewImage", "Image Save", "SaveAnimatedWEBP", "SaveWEBM")
_SAMPLERS = ("KSampler", "KSamplerAdvanced", "SamplerCustom", "SamplerCustomAdvanced")
_TEXT_INPUTS = ("text", "t5xxl", "text_g", "clip_l", "text_l", "prompt")
_LATENT_SIZES = (
    "EmptyLatentImage",
    "EmptySD3LatentImage",
    "EmptyFlux2LatentImage",
    "EmptyHunyuanLatent",
    "EmptyChromaRadianceLatentImage",
)
_MAX_DEPTH = 200


def _is_link(v: object) -> bool:
    return isinstance(v, list) and len(v) == 2 and isinstance(v[0], (str, int)) and isinstance(v[1], int)


class Graph:
    def __init__(self, nodes: dict[str, Any]) -> None:
        self.nodes = {str(k): v for k, v in nodes.items() if isinstance(v, dict)}

    def node(self, link: object) -> tuple[str, dict[str, Any]] | None:
        if not _is_link(link):
            return None
        nid = str(link[0])  # type: ignore[index]
        n = self.nodes.get(nid)
        return (nid, n) if n is not None else None

    @staticmethod
    def kind(node: dict[str, Any]) -> str:
        return str(node.get("class_type", ""))

    @staticmethod
    def inputs(node: dict[str, Any]) -> dict[str, Any]:
        inp = node.get("inputs")
        return inp if isinstance(inp, dict) else {}

    def value(self, node: dict[str, Any], name: str, depth: int = 0) -> Any:
        """An input's value; a link to a primitive node (PrimitiveInt, a seed node, a string node) is
        followed to that node's own value."""
        v = self.inputs(node).get(name)
        if not _is_link(v):
            return v
        target = self.node(v)
        if target is None or depth > 8:
            return None
        tin = self.inputs(target[1])
        for key in (name, "value", "seed", "noise_seed", "int", "string", "text", "float", "number"):
            if key in tin:
                return self.value(target[1], key, depth + 1)
        return None


def _saves(g: Graph) -> list[tuple[str, dict[str, Any]]]:
    out = [
        (nid, n)
        for nid, n in g.nodes.items()
        if any(h in g.kind(n) for h in _SAVE_HINTS) and _is_link(g.inputs(n).get("images"))
    ]
    return sorted(out, key=lambda x: (not x[0].isdigit(), int(x[0]) if x[0].isdigit() else 0, x[0]))


def _passes(g: Graph, start: object) -> list[tuple[str, dict[str, Any]]]:
    """The sampler nodes behind ``start``, last pass first: from each sampler only its latent input is
    followed further (model and conditioning never lead to an earlier pass)."""
    found: list[tuple[str, dict[str, Any]]] = []
    seen: set[str] = set()
    stack = [(start, 0)]
    while stack:
        link, depth = stack.pop()
        hit = g.node(link)
        if hit is None or hit[0] in seen or depth > _MAX_DEPTH:
            continue
        nid, n = hit
        seen.add(nid)
        if g.kind(n) in _SAMPLERS:
            found.append(hit)
            stack.append((g.inputs(n).get("latent_image"), depth + 1))
            continue
        for v in reversed(list(g.inputs(n).values())):
            if _is_link(v):
                stack.append((v, depth + 1))
    return found


def _prompt(g: Graph, link: object) -> tuple[str | None, float | None]:
    """The text and the FluxGuidance on a conditioning path (through FluxGuidance, ReferenceLatent,
    ConditioningCombine, timestep ranges, … — any node, its ``conditioning`` inputs first)."""
    guidance: float | None = None
    stack, seen = [(link, 0)], set()
    while stack:
        cur, depth = stack.pop(0)
        hit = g.node(cur)
        if hit is None or hit[0] in seen or depth > _MAX_DEPTH:
            continue
        nid, n = hit
        seen.add(nid)
        kind, inp = g.kind(n), g.inputs(n)
        if kind == "ConditioningZeroOut":
            return "", guidance  # FLUX's empty negative: nothing, whatever text feeds it
        if kind == "FluxGuidance" and guidance is None and isinstance(g.value(n, "guidance"), (int, float)):
            guidance = float(g.value(n, "guidance"))
        if "TextEncode" in kind or kind.startswith("CLIPText"):
            for key in _TEXT_INPUTS:
                text = g.value(n, key)
                if isinstance(text, str) and text.strip():
                    if (
                        kind == "CLIPTextEncodeFlux"
                        and guidance is None
                        and isinstance(inp.get("guidance"), (int, float))
                    ):
                        guidance = float(inp["guidance"])
                    return text, guidance
            return "", guidance
        keys = sorted(inp, key=lambda k: (not k.startswith("conditioning"), k))
        stack += [(inp[k], depth + 1) for k in keys if _is_link(inp[k])]
    return None, guidance


def _latent_size(g: Graph, link: object) -> tuple[int, int] | None:
    stack, seen = [(link, 0)], set()
    while stack:
        cur, depth = stack.pop()
        hit = g.node(cur)
        if hit is None or hit[0] in seen or depth > _MAX_DEPTH:
            continue
        nid, n = hit
        seen.add(nid)
        if g.kind(n) in _LATENT_SIZES:
            w, h = g.value(n, "width"), g.value(n, "height")
            return (w, h) if isinstance(w, int) and isinstance(h, int) else None
        if g.kind(n) in _SAMPLERS or g.kind(n).startswith(("VAEEncode", "LoadImage")):
            return None  # an image the graph starts from: its size is the reference's
        stack += [(v, depth + 1) for v in g.inputs(n).values() if _is_link(v)]
    return None


def _sampler_settings(g: Graph, n: dict[str, Any]) -> dict[str, Any]:
    """Seed, steps, cfg, sampler and scheduler of one sampler node, through its helper nodes for the
    SamplerCustom family (RandomNoise, KSamplerSelect, BasicScheduler / Flux2Scheduler, CFGGuider)."""
    kind, out = g.kind(n), dict[str, Any]()

    def num(node: dict[str, Any], key: str) -> Any:
        v = g.value(node, key)
        return v if isinstance(v, (int, float)) and not isinstance(v, bool) else None

    if kind in ("KSampler", "KSamplerAdvanced"):
        out.update(
            seed=num(n, "seed" if kind == "KSampler" else "noise_seed"),
            steps=num(n, "steps"),
            cfg=num(n, "cfg"),
            sampler=g.value(n, "sampler_name"),
            scheduler=g.value(n, "scheduler"),
            positive=g.inputs(n).get("positive"),
            negative=g.inputs(n).get("negative"),
        )
        if kind == "KSampler" and isinstance(num(n, "denoise"), float) and num(n, "denoise") < 1:
            out["denoise"] = num(n, "denoise")
        return out
    inp = g.inputs(n)
    if kind == "SamplerCustom":
        out.update(
            seed=num(n, "noise_seed"),
            cfg=num(n, "cfg"),
            positive=inp.get("positive"),
            negative=inp.get("negative"),
        )
    noise = g.node(inp.get("noise"))
    if noise is not None and "seed" not in out:
        out["seed"] = num(noise[1], "noise_seed") if g.kind(noise[1]) == "RandomNoise" else None
    guider = g.node(inp.get("guider"))
    if guider is not None:
        gk, gn = g.kind(guider[1]), guider[1]
        gin = g.inputs(gn)
        out["positive"] = gin.get("conditioning", gin.get("positive", gin.get("cond1")))
        out["negative"] = gin.get("negative")
        if gk != "BasicGuider":
            out["cfg"] = num(gn, "cfg")
    sampler = g.node(inp.get("sampler"))
    if sampler is not None:
        out["sampler"] = g.value(sampler[1], "sampler_name") or g.kind(sampler[1])
    sigmas = g.node(inp.get("sigmas"))
    if sigmas is not None:
        out["steps"] = num(sigmas[1], "steps")
        sk = g.kind(sigmas[1])
        out["scheduler"] = g.value(sigmas[1], "scheduler") or (None if sk in ("BasicScheduler",) else sk)
    return out


def read_graph(nodes: dict[str, Any]) -> tuple[dict[str, Any], list[str]] | None:  # noqa: C901 — one branch per node family
    """What the graph says about the saved image — prompt, negative, seed, steps, guidance (FluxGuidance
    or cfg), sampler, scheduler, size — and notes about how it was chosen. None when nothing is found."""
    g = Graph(nodes)
    notes: list[str] = []
    saves = _saves(g)
    if saves:
        if len(saves) > 1:
            notes.append(
                f"The graph saves {len(saves)} images; these are the settings of the first "
                f"({g.kind(saves[0][1])} node {saves[0][0]})."
            )
        passes = list(reversed(_passes(g, g.inputs(saves[0][1]).get("images"))))
    else:  # no save node in the graph: every sampler, in node order
        passes = [(nid, n) for nid, n in sorted(g.nodes.items()) if g.kind(n) in _SAMPLERS]
    if not passes:
        return None
    nid, sampler = passes[0]
    if len(passes) > 1:
        later = ", ".join(f"{g.kind(n)} {i}" for i, n in passes[1:])
        notes.append(
            f"The image was made in {len(passes)} sampling passes; these are the settings of the "
            f"first ({g.kind(sampler)} node {nid}), not of the later {later}."
        )
    s = _sampler_settings(g, sampler)
    found: dict[str, Any] = {}
    prompt, flux_guidance = _prompt(g, s.get("positive"))
    if prompt is not None:
        found["prompt"] = prompt
    negative, _ = _prompt(g, s.get("negative"))
    if negative:
        found["negative_prompt"] = negative
    if s.get("seed") is not None:
        found["seed"] = s["seed"]
    if s.get("steps") is not None:
        found["steps"] = s["steps"]
    # FLUX graphs guide through FluxGuidance with cfg 1 (no classifier-free pass); others through cfg.
    if flux_guidance is not None:
        found["guidance"] = flux_guidance
    elif s.get("cfg") is not None:
        found["guidance"] = s["cfg"]
    for key in ("sampler", "scheduler", "denoise"):
        if isinstance(s.get(key), (str, int, float)):
            found[key] = s[key]
    size = _latent_size(g, sampler.get("inputs", {}).get("latent_image"))
    if size:
        found["width"], found["height"] = size
    images = sorted(
        {
            g.value(n, "image")
            for n in g.nodes.values()
            if g.kind(n).startswith("LoadImage") and isinstance(g.value(n, "image"), str)
        }
    )
    if images:
        found["images"] = images
    models = [
        g.value(n, k)
        for n in g.nodes.values()
        for k in ("ckpt_name", "unet_name")
        if isinstance(g.value(n, k), str)
    ]
    if models:
        found["model"] = models[0]
    return found, notes
