"""The composition root shared by the CLI and the window: builds the Qt-free services once."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .core.errors import BadInput, MissingKey
from .core.request import EditRequest, ImageRef
from .core.validate import check_base_url, check_caps, check_key
from .jobs.events import EventBus
from .jobs.spend import SpendGuard
from .providers.base import ProviderInfo
from .providers.registry import Registry
from .storage.blobs import BlobStore
from .storage.history import History
from .storage.paths import Paths, default_paths, resources_dir
from .storage.presets import PresetStore
from .storage.secrets import Secrets
from .storage.settings import Settings

if TYPE_CHECKING:
    import asyncio

    from .jobs.runner import Runner, RunnerConfig
    from .storage.exports import Exported
    from .storage.history import JobRecord

MAX_REFERENCE_FILE = 200 * 1024 * 1024  # bytes read from one reference file at the most


@dataclass
class Started:
    """Work that ``Services.start_work`` created and started: the jobs (in the order asked), their running
    tasks, and the spend-cap warnings the new total crosses (empty when none)."""

    records: list[JobRecord]
    tasks: list[asyncio.Task[JobRecord]]
    warnings: tuple[str, ...] = ()


@dataclass
class Services:
    paths: Paths
    settings: Settings
    history: History
    blobs: BlobStore
    secrets: Secrets
    registry: Registry
    presets: PresetStore
    bus: EventBus
    guard: SpendGuard
    base_urls: dict[str, str] = field(default_factory=dict)
    _table: Any = None
    _runner: Any = None
    _runner_setup: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def build(
        cls,
        *,
        paths: Paths | None = None,
        base_urls: Mapping[str, str] | None = None,
        env: Mapping[str, str] | None = None,
        keyring_backend: Any = None,
        runner_config: RunnerConfig | None = None,
        client_factory: Any = None,
    ) -> Services:
        paths = (paths or default_paths()).ensure()
        settings = Settings.load(paths.settings_file)
        history = History(paths.history_db)
        blobs = BlobStore(paths.blobs)
        secrets = Secrets(env=env, backend=keyring_backend)
        registry = Registry(settings.endpoints)
        presets = PresetStore(paths.presets, resources_dir() / "presets")
        bus = EventBus()
        urls = {**settings.base_urls, **(base_urls or {})}
        guard = SpendGuard(history, settings.caps)
        made = cls(
            paths=paths,
            settings=settings,
            history=history,
            blobs=blobs,
            secrets=secrets,
            registry=registry,
            presets=presets,
            bus=bus,
            guard=guard,
            base_urls=urls,
            _runner_setup={"config": runner_config, "client_factory": client_factory},
        )
        guard.reason = made.why_unknown
        guard.refuse = made.settings_refusal
        return made

    # ------------------------------------------------------------------ jobs
    @property
    def runner(self) -> Runner:
        """The job runner, made on first use (it brings asyncio: the window paints before that)."""
        if self._runner is None:
            from .jobs.runner import Runner, RunnerConfig
            from .providers.uploads import Uploads
            from .storage.prepared import PreparedStore
            from .storage.uploads import UploadStore

            cfg = self._runner_setup.get("config") or RunnerConfig()
            cfg.base_urls = self.base_urls
            if cfg.state_dir is None:
                cfg.state_dir = self.paths.sandbox_state
            self._runner = Runner(
                history=self.history,
                blobs=self.blobs,
                registry=self.registry,
                secrets=self.secrets,
                bus=self.bus,
                config=cfg,
                client_factory=self._runner_setup.get("client_factory"),
                quoter=self.quote_pair,
                guard=self.guard,
                uploads=Uploads(UploadStore(self.history)),
                prepared=PreparedStore(self.paths.cache / "prepared"),
            )
        return self._runner

    @runner.setter
    def runner(self, runner: Runner) -> None:
        self._runner = runner

    # ------------------------------------------------------------------ pricing
    @property
    def price_table(self) -> Any:
        if self._table is None:
            from .pricing import load_table

            override = self.paths.config / "prices.json"
            self._table = load_table(override if override.exists() else None)
        return self._table

    def user_rates(self) -> dict[str, float]:
        """The per-image rates the user set (Settings → Spending) for providers without a published price."""
        from .storage.user_prices import user_rates

        return user_rates(self.paths.config / "prices.json")

    def set_user_rate(self, provider_id: str, usd: float | None) -> None:
        """Set (or, None, remove) the user's per-image rate of ``provider_id``; quotes use it at once."""
        from .storage.user_prices import set_rate

        set_rate(self.paths.config / "prices.json", provider_id, usd)
        self._table = None

    def quote(self, request: EditRequest, provider_id: str | None = None) -> Any:
        from .pricing import quote

        pid = provider_id or request.provider
        info = self.registry.get(pid) if pid in self.registry else None
        max_px = info.capabilities.max_pixels if info else 4 * 1048576
        # A user-defined endpoint has no entry of its own: it is priced by its protocol's rule.
        return quote(
            request,
            pid,
            table=self.price_table,
            max_pixels=max_px,
            protocol=info.protocol if info else None,
            side_range=info.capabilities.side_range if info else None,
        )

    def why_unknown(self, request: EditRequest) -> str:
        """Why ``request``'s price is unknown, in a few words ("Kie bills in credits"); "" when known."""
        from .jobs.spend import why_unknown

        q = self.quote(request)
        return "" if q.usd is not None else why_unknown(q.note)

    def quote_pair(self, request: EditRequest) -> tuple[float | None, dict[str, Any] | None]:
        q = self.quote(request)
        return q.usd, q.to_dict()

    async def balances(self, provider_ids: list[str] | None = None) -> dict[str, dict[str, Any]]:
        """Remaining balance per provider that documents one (``jobs.balance``); asked only on demand."""
        from .jobs.balance import fetch_balances

        infos = [self.registry.get(p) for p in provider_ids] if provider_ids else self.registry.all()
        return await fetch_balances(self.runner, infos)

    # ------------------------------------------------------------------ references
    def import_reference(self, data: bytes, name: str = "") -> ImageRef:
        """Check an image (header, size, bombs, corruption) and keep its bytes in the blob store."""
        from .core import images

        info = images.inspect(data, name)
        sha = info.sha256
        if not sha:
            import hashlib  # not at start-up: it loads OpenSSL (core.images has it loaded by now)

            sha = hashlib.sha256(data).hexdigest()
        self.blobs.put(data, info.mime, sha=sha)
        return ImageRef(sha256=sha, width=info.width, height=info.height, name=name, mime=info.mime)

    def import_reference_file(self, path: str | Path) -> ImageRef:
        """A reference from a file: a regular file only (a FIFO or a device is refused, never read),
        read in chunks up to ``MAX_REFERENCE_FILE`` bytes."""
        from .storage.files import read_capped

        data = read_capped(path, MAX_REFERENCE_FILE, what="file")
        return self.import_reference(data, Path(path).name)

    # ------------------------------------------------------------------ starting work
    def check_work(
        self,
        requests: Sequence[EditRequest],
        *,
        max_cost: float | None = None,
        key_sources: Mapping[str, str | None] | None = None,
    ) -> list[ProviderInfo]:
        """Everything that can refuse work before anything is written or sent: each request against its
        provider's capabilities, each provider's key (``MissingKey``), and a price ceiling when one is
        given. Raises ``BadInput``; returns the providers' infos in the order of the requests.
        ``key_sources`` are key sources already read (the window reads them off the GUI thread)."""
        infos = [self.runner.check(r.resolved()) for r in requests]
        for r in requests:
            refusal = self.settings_refusal(r)
            if refusal:
                raise BadInput(refusal)
        check_caps(self.settings.caps)
        known = key_sources or {}
        for info in {i.id: i for i in infos}.values():
            self.check_endpoint(info)
            source = known[info.id] if info.id in known else self.key_source(info)
            if info.needs_key and not source:
                raise MissingKey.of(info.label, info.id, info.env_var)
            # The key's characters: always for an environment variable (no keyring call); for a stored key
            # only off the GUI thread (the window passes key_sources it read there; keys set through
            # Secrets.set were checked on the way in).
            if info.needs_key and (info.id not in known or source == "env"):
                where = f"from {info.env_var}" if source == "env" and info.env_var else f"from the {source}"
                check_key(self.secrets.get(info.id, info.env_var), label=info.label, where=where)
        if max_cost is not None:
            quotes = [self.quote(r) for r in requests]
            if any(q.usd is None for q in quotes):
                raise BadInput("--max-cost is set but the price of this edit is unknown; nothing was sent.")
            total = sum(q.usd for q in quotes)
            if total > max_cost + 1e-9:
                raise BadInput(
                    f"This edit costs ${total:.4f}, above --max-cost ${max_cost:.4f}; nothing was sent."
                )
        return infos

    def settings_refusal(self, request: EditRequest) -> str:
        """Why paid work is refused while the settings file is damaged ("" when it is not, or for the
        sandbox): its spending limits and endpoints are not in effect, and nothing is sent until the
        settings are valid again or the defaults are confirmed (saved)."""
        from .storage.settings import settings_fault

        info = self.registry.get(request.provider) if request.provider in self.registry else None
        if info is not None and info.simulator:
            return ""
        moved = settings_fault(self.paths.settings_file)
        if moved is None:
            return ""
        return (
            f"The settings file was damaged and moved aside to {moved}, so your spending limits and "
            "endpoints are not in effect and nothing was sent — repair it and name it settings.json "
            "again, or confirm the default settings (save them in the window's Settings), to go on."
        )

    def confirm_default_settings(self) -> None:
        """The user saw the damaged settings named and goes on with these settings: they are saved (the
        damaged file stays where it was moved)."""
        self.save_settings()

    def check_endpoint(self, info: ProviderInfo) -> None:
        """Where a provider's key would go — from --base-url, the settings or a custom endpoint — must
        be https (or http to this computer)."""
        if info.simulator:
            return
        url = self.base_urls.get(info.id)
        if url is not None:
            check_base_url(url, what=f"The base URL for {info.id}")
        elif info.default_base_url:
            check_base_url(info.default_base_url, what=f"The base URL of {info.label}")

    def start_work(
        self,
        requests: Sequence[EditRequest],
        *,
        kind: str | None = None,
        parent_job_id: str | None = None,
        max_cost: float | None = None,
        key_sources: Mapping[str, str | None] | None = None,
        deliver_to: str | None = None,
    ) -> Started:
        """The one way work starts, for the window, the CLI and batches: ``check_work``, then create the
        jobs — one job, or with ``kind`` ("comparison", "sweep", …) a group checked as a whole against
        the spend caps — and start them. Nothing is written or sent when anything is refused. Needs a
        running event loop (the jobs start as tasks). ``deliver_to`` (edit -o) is stored with each job before
        it starts, so a job that ends interrupted is still written there when it is resumed (``deliver``)."""
        if not requests:
            raise BadInput("There is nothing to run.")
        if kind is None and len(requests) > 1:
            raise ValueError("several requests are started as a group: name its kind")
        self.check_work(requests, max_cost=max_cost, key_sources=key_sources)
        runner = self.runner
        if kind is None:
            records = [runner.create(requests[0], parent_job_id=parent_job_id)]
        else:
            records = runner.create_group(requests, kind, parent_job_id=parent_job_id)
        if deliver_to:
            for rec in records:
                self.history.update(rec.id, deliver_to=deliver_to)
        warnings = tuple(self.guard.last_warnings)
        return Started(records, [runner.start(rec.id) for rec in records], warnings)

    # ------------------------------------------------------------------ results
    def deliver(self, rec: JobRecord, out: str, *, several: bool = False) -> list[tuple[Exported, Path]]:
        """Write a finished job's images to ``out`` (a file path, or a folder: one ending in a separator,
        an existing folder, a name without extension, or several images) with their recipe. A file already
        there is never overwritten (a free name is used). Returns each file written and the name wanted."""
        from .storage.exports import export_image, target_path

        dest = Path(out)
        as_dir = (
            several or out.endswith(("/", "\\")) or dest.is_dir() or not dest.suffix or len(rec.outputs) > 1
        )
        (dest if as_dir else dest.parent).mkdir(parents=True, exist_ok=True)
        info = self.registry.get(rec.provider) if rec.provider in self.registry else None
        written: list[tuple[Exported, Path]] = []
        for n, o in enumerate(rec.outputs):
            stem = f"flexstudio-{rec.id}" + (f"-{n + 1}" if len(rec.outputs) > 1 else "")
            if not self.blobs.has(o.sha256):
                raise BadInput(
                    f"Image {n + 1} of job {rec.id} ({o.sha256[:12]}…) is missing from the history "
                    f"folder {self.blobs.root}; it was deleted outside FlexStudio."
                )
            p = export_image(
                self.blobs.get(o.sha256),
                o.mime,
                dest,
                rec.request,
                stem=stem,
                job_id=rec.id,
                provider=rec.provider,
                provider_label=info.label if info else rec.provider,
                provider_job_id=rec.provider_job_id,
                seed=rec.request.seed,
                size=(o.width, o.height),
                billed_usd=rec.billed_usd,
                quote_usd=rec.quote_usd,
            )
            written.append((p, target_path(dest, o.mime, stem)))
        return written

    # ------------------------------------------------------------------ keys
    def key_source(self, info: ProviderInfo) -> str | None:
        if not info.needs_key:
            return "none-needed"
        return self.secrets.source(info.id, info.env_var)

    def save_settings(self) -> None:
        self.settings.save(self.paths.settings_file)

    async def aclose(self) -> None:
        if self._runner is not None:
            await self._runner.aclose()
        self.history.close()
