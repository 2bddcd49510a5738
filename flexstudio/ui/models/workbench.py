"""The workbench view-model: the one ``EditRequest`` being edited, plus the choices around it (size mode,
seed policy, lineage, the "before" image). Widgets read it and call its setters; it never touches a
widget. Every change emits ``changed`` so the price follows at once."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, Signal

from ...core import json_prompt
from ...core.request import SEED_MAX, EditRequest, ImageRef, random_seed
from ...core.sizes import ASPECT_PRESETS, snap
from . import describe, mentions

if TYPE_CHECKING:
    from ...providers.base import Capabilities, ProviderInfo
    from ...services import Services
    from ...storage.history import JobRecord, Output
    from ...storage.presets import Preset
    from ...storage.recipes import Recipe

SIZE_AUTO, SIZE_MATCH, SIZE_CUSTOM = "auto", "match", "custom"
SEED_POLICIES = ("fixed", "increment", "random")  # after a run: keep, +1, new random
PROMPT_PLAIN, PROMPT_JSON = "plain", "json"


class Workbench(QObject):
    changed = Signal()  # anything in the request changed: the quote follows
    referencesChanged = Signal()
    providerChanged = Signal()
    promptSet = Signal(str)  # the model rewrote the prompt (renumbering, restore, prompt history)
    restored = Signal()  # a whole request was loaded: every control re-reads the model
    seedChanged = Signal(object)  # int up to 2**32-1: wider than a Qt int
    beforeChanged = Signal()
    undoable = Signal(str, object, object)  # what was done to the references, the snapshots before and after
    promptModeChanged = Signal(str)  # "plain" or "json" (FLUX.2's structured prompt)
    goneChanged = Signal()  # the prompt's mentions of removed pictures moved, went or came

    def __init__(self, services: Services, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.services = services
        pid = services.settings.provider if services.settings.provider in services.registry else "sandbox"
        self._req = EditRequest(prompt="", provider=pid, seed=random_seed())
        ui = services.settings.ui
        self.size_mode: str = str(ui.get("size_mode", SIZE_AUTO))
        if self.size_mode not in (SIZE_AUTO, SIZE_MATCH, SIZE_CUSTOM, *ASPECT_PRESETS):
            self.size_mode = SIZE_AUTO
        custom = ui.get("custom_size") or [1024, 1024]
        self.custom_size: tuple[int, int] = (snap(custom[0]), snap(custom[1]))
        mode = services.settings.seed_mode
        self.seed_policy: str = mode if mode in SEED_POLICIES else "random"
        self.seed_locked = False
        self.before_sha: str | None = None
        self.template: str | None = None  # the prompt template of the last preset applied
        self._gone: tuple[mentions.Span, ...] = ()  # mentions of removed pictures, as the user wrote them
        self.prompt_mode: str = PROMPT_JSON if ui.get("prompt_mode") == PROMPT_JSON else PROMPT_PLAIN
        self._check: tuple[str, json_prompt.Check] | None = None
        self._origins: dict[str, str] = {}  # reference sha → the job whose result it is
        self._spend_cache: dict[float | str, tuple[tuple[str, ...], str]] = {}
        self._restore_draft(ui.get("draft"))
        self._clamp_to_caps()

    def _restore_draft(self, draft: Any) -> None:
        """The work in progress of the last session (references still on disk, prompt, settings)."""
        if not isinstance(draft, dict):
            return
        try:
            req = EditRequest.from_dict(draft)
        except Exception:  # a damaged draft only costs the draft
            return
        refs = [r for r in req.references if self.services.blobs.has(r.sha256)]
        provider = req.provider if req.provider in self.services.registry else self._req.provider
        self._req = req.with_(
            references=refs,
            provider=provider,
            size=None,
            seed=req.seed if req.seed is not None else self._req.seed,
        )

    # ------------------------------------------------------------------ reading
    @property
    def info(self) -> ProviderInfo:
        return self.services.registry.get(self._req.provider)

    @property
    def caps(self) -> Capabilities:
        return self.info.capabilities

    @property
    def references(self) -> tuple[ImageRef, ...]:
        return self._req.references

    @property
    def prompt(self) -> str:
        return self._req.prompt

    def size(self) -> tuple[int, int] | None:
        """The explicit size the size mode stands for (None = auto)."""
        if self.size_mode == SIZE_MATCH:
            return self._req.references[0].sent_size(self.caps.max_pixels) if self._req.references else None
        if self.size_mode == SIZE_CUSTOM:
            return self.custom_size
        if self.size_mode in ASPECT_PRESETS:
            return ASPECT_PRESETS[self.size_mode]
        return None

    @property
    def request(self) -> EditRequest:
        """The request as it is sent: a valid JSON prompt goes out compact (see ``core.json_prompt``)."""
        req = self._req.with_(size=self.size())
        if self.prompt_mode == PROMPT_JSON and self.prompt_check().ok:
            req = req.with_(prompt=json_prompt.compact(req.prompt))
        return req

    def prompt_check(self) -> json_prompt.Check:
        """The JSON prompt's verdict (cached per text); always fine in plain mode."""
        if self.prompt_mode != PROMPT_JSON:
            return json_prompt.Check()
        text = self._req.prompt
        if self._check is None or self._check[0] != text:
            self._check = (text, json_prompt.check(text))
        return self._check[1]

    def run_blocker(self, *, spend: bool = True) -> str | None:
        """Why Run cannot start the request being edited, or None; ``spend``: a spending limit the edit
        would pass counts too (a comparison or a sweep prices its own edits)."""
        verdict = self.prompt_check()
        if not verdict.ok:
            return f"Fix the JSON prompt first — {verdict.error}"
        if self._gone:
            return mentions.gone_sentence(self._req.prompt, self._gone)
        refusal = self.spend_check(self.priced()[1].usd)[1] if spend else ""
        return refusal or None

    def gone_mentions(self) -> tuple[mentions.Span, ...]:
        """Where the prompt names a picture that was removed from the tray: (start, end) of each mention."""
        return self._gone

    def forget_gone(self) -> None:
        """The user runs the prompt as written: its mentions mean the pictures now at those numbers."""
        if self._gone:
            self._gone = ()
            self.goneChanged.emit()
            self.changed.emit()

    def send_refusal(self, runner: Any) -> tuple[str, bool]:
        """(why ``runner`` refuses the request being edited, and whether the provider refuses it whatever
        the prompt says — its limits: such a request has no price); ("", False) when it can be sent."""
        from ...core.errors import BadInput

        req = self.request
        try:
            runner.check(req.resolved())
            return "", False
        except BadInput as exc:
            reason = str(exc)
        if req.prompt.strip():
            return reason, True
        shortest = (self.caps.prompt_length or (1, 1))[0]
        try:  # an empty prompt is being typed: is the rest of the request one the provider can take?
            runner.check(req.with_(prompt="x" * max(1, shortest)).resolved())
        except BadInput as exc:
            return str(exc), True
        return reason, False

    def output_size(self) -> tuple[int, int]:
        return self.request.output_size(self.caps.max_pixels)

    def quote(self) -> Any:
        return self.services.quote(self.request)

    def priced(self) -> tuple[EditRequest, Any]:
        """The current request and its quote (computed synchronously: microseconds)."""
        request = self.request
        limit = self.caps.max_references
        if len(request.references) > limit:  # only what would be sent is priced (Run says what to remove)
            request = request.with_(references=request.references[:limit])
        return request, self.services.quote(request)

    def spend_check(self, usd: float | None) -> tuple[tuple[str, ...], str]:
        """(warnings, refusal sentence or "") for spending ``usd`` more, against the user's caps. Cached
        until ``invalidate_spend`` (the spend changes when a job starts or ends, not while a slider moves)."""
        from ...core.errors import SpendCapExceeded

        # An unknown price is not $0 (it is refused under a limit, for a reason that is the provider's).
        key: float | str = self.request.provider if usd is None else round(usd, 6)
        hit = self._spend_cache.get(key)
        if hit is None:
            try:
                why = self.services.why_unknown(self.request) if usd is None else ""
                hit = (self.services.guard.check(usd, why_unknown=why), "")
            except SpendCapExceeded as exc:
                hit = ((), str(exc))
            if len(self._spend_cache) > 256:
                self._spend_cache.clear()
            self._spend_cache[key] = hit
        return hit

    def invalidate_spend(self) -> None:
        self._spend_cache.clear()

    def providers(self) -> list[ProviderInfo]:
        return self.services.registry.all()

    def parent_job_id(self) -> str | None:
        """The job whose result is among the references (lineage: "made from job N")."""
        for ref in self._req.references:
            if ref.sha256 in self._origins:
                return self._origins[ref.sha256]
        return None

    def before_reference(self) -> ImageRef | None:
        for ref in self._req.references:
            if ref.sha256 == self.before_sha:
                return ref
        return self._req.references[0] if self._req.references else None

    # ------------------------------------------------------------------ writing
    def _set(self, **changes: Any) -> None:
        new = self._req.with_(**changes)
        if new != self._req:
            self._req = new
            self.changed.emit()

    def set_prompt(self, text: str) -> None:
        """From the editor (which already shows ``text``)."""
        gone = mentions.follow_edit(self._req.prompt, text, self._gone)
        if gone != self._gone:
            self._gone = gone
            self.goneChanged.emit()
        self._set(prompt=text)

    def replace_prompt(self, text: str, gone: tuple[mentions.Span, ...] = ()) -> None:
        """From anywhere else: the editor is told to show it (``gone``: its mentions of removed pictures)."""
        flags = gone != self._gone
        self._gone = gone
        if text != self._req.prompt:
            self._req = self._req.with_(prompt=text)
            self.promptSet.emit(text)
            self.changed.emit()
        elif flags:
            self.changed.emit()
        if flags:
            self.goneChanged.emit()

    def set_prompt_mode(self, mode: str) -> None:
        """Plain text or FLUX.2's JSON structured prompt. Switching to JSON starts from the template (an
        empty prompt) or puts the plain prompt in as the scene; back to plain, a prompt that is only a scene
        becomes that text again. Anything else is left as typed."""
        if mode not in (PROMPT_PLAIN, PROMPT_JSON) or mode == self.prompt_mode:
            return
        self.prompt_mode = mode
        self.promptModeChanged.emit(mode)
        if mode == PROMPT_JSON:
            self.replace_prompt(json_prompt.from_plain(self._req.prompt))
        else:
            self.replace_prompt(json_prompt.to_plain(self._req.prompt))
        self.changed.emit()

    def _mode_for(self, prompt: str) -> str:
        """A restored prompt decides the mode: a JSON object comes back in JSON mode, indented."""
        mode = PROMPT_JSON if json_prompt.is_json_prompt(prompt) else PROMPT_PLAIN
        if mode != self.prompt_mode:
            self.prompt_mode = mode
            self.promptModeChanged.emit(mode)
        return json_prompt.pretty(prompt) if mode == PROMPT_JSON else prompt

    def set_steps(self, steps: int) -> None:
        self._set(steps=int(steps))

    def set_guidance(self, guidance: float) -> None:
        self._set(guidance=round(float(guidance), 1))

    def set_seed(self, seed: int) -> None:
        seed = max(0, min(SEED_MAX, int(seed)))
        if seed != self._req.seed:
            self._set(seed=seed)
            self.seedChanged.emit(seed)

    def roll_seed(self) -> int:
        self.set_seed(random_seed())
        return int(self._req.seed or 0)

    def set_seed_policy(self, policy: str) -> None:
        if policy in SEED_POLICIES:
            self.seed_policy = policy

    def set_format(self, fmt: str) -> None:
        self._set(output_format=fmt)

    def set_safety(self, safety: int) -> None:
        self._set(safety=int(safety))

    def set_upsampling(self, on: bool) -> None:
        self._set(prompt_upsampling=bool(on))

    def set_size_mode(self, mode: str, custom: tuple[int, int] | None = None) -> None:
        if custom is not None:
            self.custom_size = (snap(custom[0]), snap(custom[1]))
        before = self.size()
        self.size_mode = mode
        if self.size() != before or custom is not None:
            self.changed.emit()

    def set_provider(self, provider_id: str) -> None:
        if provider_id == self._req.provider or provider_id not in self.services.registry:
            return
        self._req = self._req.with_(provider=provider_id)
        self._clamp_to_caps()
        self.providerChanged.emit()
        self.changed.emit()

    def _clamp_to_caps(self) -> None:
        caps = self.caps
        req = self._req
        changes: dict[str, Any] = {}
        if caps.steps_range:
            lo, hi = caps.steps_range
            changes["steps"] = max(lo, min(hi, req.steps))
        if caps.guidance_range:
            lo_g, hi_g = caps.guidance_range
            changes["guidance"] = max(lo_g, min(hi_g, req.guidance))
        if caps.safety_range:
            lo_s, hi_s = caps.safety_range
            changes["safety"] = max(lo_s, min(hi_s, req.safety))
        if caps.formats and req.output_format not in caps.formats:
            changes["output_format"] = caps.formats[0]
        self._req = req.with_(**changes)

    # ------------------------------------------------------------------ references
    def room(self) -> int:
        return max(0, self.caps.max_references - len(self._req.references))

    def add_references(self, refs: Iterable[ImageRef], *, origin_job: str | None = None) -> int:
        """Append up to the provider's limit; returns how many were added."""
        current = list(self._req.references)
        added = 0
        for ref in refs:
            if len(current) >= self.caps.max_references:
                break
            current.append(ref)
            added += 1
            if origin_job:
                self._origins[ref.sha256] = origin_job
        if added:
            self._req = self._req.with_(references=current)
            self.referencesChanged.emit()
            self.changed.emit()
        return added

    def use_result(self, job: JobRecord, output: Output) -> bool:
        ref = ImageRef(
            sha256=output.sha256,
            width=output.width,
            height=output.height,
            name=describe.result_name(job.request.prompt),
            mime=output.mime,
        )
        return self.add_references([ref], origin_job=job.id) == 1

    def replace_reference(self, index: int, ref: ImageRef) -> None:
        current = list(self._req.references)
        if 0 <= index < len(current):
            if self.before_sha == current[index].sha256:
                self.before_sha = None
            current[index] = ref
            self._req = self._req.with_(references=current)
            self.referencesChanged.emit()
            self.changed.emit()

    def _undoable(self, text: str, before: tuple[Any, ...]) -> None:
        self.undoable.emit(text, before, self.snapshot())

    def remove_reference(self, index: int) -> None:
        current = list(self._req.references)
        if not 0 <= index < len(current):
            return
        before = self.snapshot()
        removed = current.pop(index)
        prompt, gone = mentions.after_removal(self._req.prompt, index, len(current) + 1, self._gone)
        self._req = self._req.with_(references=current)
        if removed.sha256 == self.before_sha:
            self.before_sha = None
            self.beforeChanged.emit()
        self.referencesChanged.emit()
        self.replace_prompt(prompt, gone)
        self.changed.emit()
        self._undoable(f"Remove image {index + 1}", before)

    def move_reference(self, src: int, dst: int) -> None:
        current = list(self._req.references)
        n = len(current)
        if not (0 <= src < n) or src == dst:
            return
        order = mentions.move_order(n, src, dst)
        if order == list(range(n)):
            return
        before = self.snapshot()
        self._req = self._req.with_(references=[current[i] for i in order])
        self.referencesChanged.emit()
        self.replace_prompt(*mentions.reordered(self._req.prompt, order, self._gone))
        self.changed.emit()
        self._undoable(f"Move image {src + 1}", before)

    def clear_references(self) -> None:
        if self._req.references:
            before = self.snapshot()
            n = len(self._req.references)
            self._req = self._req.with_(references=())
            self.before_sha = None
            self.referencesChanged.emit()
            self.changed.emit()
            self._undoable(f"Clear {n} reference{'s' if n > 1 else ''}", before)

    def set_before(self, index: int) -> None:
        if 0 <= index < len(self._req.references):
            self.before_sha = self._req.references[index].sha256
            self.beforeChanged.emit()

    # ------------------------------------------------------------------ whole requests
    def restore(self, request: EditRequest, *, keep_provider: bool = False) -> list[str]:
        """Load a whole request into the workbench (history "restore all settings"). Returns the names
        of references whose images are no longer on disk (left out)."""
        refs = [r for r in request.references if self.services.blobs.has(r.sha256)]
        missing = [
            r.name or r.sha256[:12] for r in request.references if not self.services.blobs.has(r.sha256)
        ]
        provider = (
            self._req.provider
            if keep_provider or request.provider not in self.services.registry
            else request.provider
        )
        self._load(
            request.with_(
                references=refs,
                provider=provider,
                prompt=self._mode_for(request.prompt),
                seed=request.seed if request.seed is not None else random_seed(),
            )
        )
        return missing

    def _load(self, request: EditRequest) -> None:
        """Make ``request`` the one being edited (its size becomes the size mode) and tell every control."""
        self._req = request.with_(size=None)
        self._gone = ()
        if request.size is None:
            self.size_mode = SIZE_AUTO
        else:
            preset = next((k for k, v in ASPECT_PRESETS.items() if v == tuple(request.size)), None)
            self.size_mode = preset or SIZE_CUSTOM
            if preset is None:
                self.custom_size = tuple(request.size)  # type: ignore[assignment]
        self._clamp_to_caps()
        if self.before_sha not in {r.sha256 for r in self._req.references}:
            self.before_sha = None
        self._announce()

    def _announce(self) -> None:
        self.restored.emit()
        self.providerChanged.emit()
        self.referencesChanged.emit()
        self.promptSet.emit(self._req.prompt)
        self.goneChanged.emit()
        self.seedChanged.emit(int(self._req.seed or 0))
        self.changed.emit()

    # ------------------------------------------------------------------ presets
    def apply_preset(self, preset: Preset) -> None:
        """Apply a preset's settings (and its prompt template) to the request being edited. A provider the
        registry does not know is left as it is; a "random" seed policy keeps the current seed."""
        base = self._req.with_(size=self.size())
        prompt = self.untemplated_prompt()
        req = preset.apply(base, prompt=prompt)
        if req.provider not in self.services.registry:
            req = req.with_(provider=self._req.provider)
        if req.seed is None:
            req = req.with_(seed=self._req.seed if self._req.seed is not None else random_seed())
        if "size" not in preset.settings:
            req = req.with_(size=base.size)
        policy = preset.settings.get("seed_policy")
        if policy in SEED_POLICIES:
            self.seed_policy = str(policy)
        self.template = preset.prompt_template
        self._load(req)

    def untemplated_prompt(self) -> str:
        """The prompt without the last applied preset's template around it (a template never nests)."""
        text = self._req.prompt
        tpl = self.template
        if tpl and "{prompt}" in tpl:
            head, _, tail = tpl.partition("{prompt}")
            if text.startswith(head) and text.endswith(tail) and len(text) >= len(head) + len(tail):
                return text[len(head) : len(text) - len(tail)]
        return text

    def capture_preset(
        self,
        name: str,
        *,
        seed_policy: str | None = None,
        prompt_template: str | None = None,
        include_provider: bool = True,
        description: str = "",
    ) -> Preset:
        from ...storage.presets import Preset

        return Preset.capture(
            name,
            self.request,
            seed_policy=seed_policy or self.seed_policy,
            prompt_template=prompt_template or None,
            include_provider=include_provider,
            description=description,
        )

    # ------------------------------------------------------------------ recipes and snapshots
    def snapshot(self) -> tuple[Any, ...]:
        """Everything a restore replaces, to put it back ("Add as a reference instead")."""
        return (
            self._req,
            self.size_mode,
            self.custom_size,
            self.seed_policy,
            dict(self._origins),
            self.before_sha,
            self.template,
            self.prompt_mode,
            self._gone,
        )

    def restore_snapshot(self, snap: tuple[Any, ...]) -> None:
        (
            req,
            self.size_mode,
            self.custom_size,
            self.seed_policy,
            origins,
            before,
            self.template,
            mode,
            gone,
        ) = snap
        self._gone = gone
        if mode != self.prompt_mode:
            self.prompt_mode = mode
            self.promptModeChanged.emit(mode)
        self._origins = origins
        self._req = req if req.provider in self.services.registry else req.with_(provider=self._req.provider)
        self._clamp_to_caps()
        self.before_sha = before
        self._announce()

    def apply_recipe(self, recipe: Recipe) -> list[str]:
        """Restore what an image says about how it was made. A FlexStudio recipe is the whole request; from
        another generator only the values the image carries and FLUX.2 [flex] takes (``recipe.fields``)
        replace the current ones — the references, format and everything else being edited stay."""
        r = recipe.request
        if recipe.source == "flexstudio":
            return self.restore(r)
        cur = self.request
        keep = {"prompt", "steps", "guidance", "seed", "size", "safety", "prompt_upsampling", "provider"}
        changes = {k: getattr(r, k) for k in keep & recipe.fields}
        if changes.get("provider") not in self.services.registry:
            changes.pop("provider", None)
        if "prompt" in changes:
            changes["prompt"] = self._mode_for(changes["prompt"])
        self._load(cur.with_(**changes))
        return []

    def after_run(self, used_seed: int | None) -> None:
        """Apply "control after run" to the seed once a job was created with ``used_seed``."""
        if self.seed_locked or used_seed is None:
            return
        if self.seed_policy == "increment":
            self.set_seed((used_seed + 1) % (SEED_MAX + 1))
        elif self.seed_policy == "random":
            self.roll_seed()

    def remember(self) -> None:
        """Keep the choices worth keeping between sessions in settings (saved by the window)."""
        s = self.services.settings
        s.provider = self._req.provider
        s.seed_mode = self.seed_policy
        s.ui["size_mode"] = self.size_mode
        s.ui["custom_size"] = list(self.custom_size)
        s.ui["draft"] = self._req.with_(
            size=None
        ).to_dict()  # references, prompt, settings: back at the next start
        s.ui["prompt_mode"] = self.prompt_mode
