"""The results of a provider comparison or a sweep: one card per job (picture, state, latency, quoted and
billed cost, seed and, for a comparison, which settings the provider honoured / renamed / converted /
ignored). A comparison is a row of cards; a sweep is a steps × guidance grid, one tab per seed. Cards
follow the jobs as they run; any card can be picked as the winner (kept in history) and any two opened
in the compare view."""

from __future__ import annotations

import html
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QTabBar,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from ...core.job_state import JobState
from ...providers.base import REQUEST_FIELDS, Support
from ..models.describe import job_words, settings_words
from ..models.jobs_model import is_terminal
from ..widgets import theme
from ..widgets.jobs_panel import STATE_WORDS, outcome_text

if TYPE_CHECKING:
    from ...jobs.events import JobEvent
    from ...providers.base import Capabilities
    from ...storage.history import JobRecord
    from ..models.thumbs import ThumbnailCache

PICTURE = 224  # a comparison card's picture (px)
SWEEP_PICTURE = 160  # a sweep card's: more of the grid on screen
FIELD_WORDS = {
    "prompt": "prompt",
    "references": "references",
    "steps": "steps",
    "guidance": "guidance",
    "seed": "seed",
    "size": "size",
    "output_format": "format",
    "safety": "safety",
    "prompt_upsampling": "upsampling",
}


def handling_lines(caps: Capabilities) -> list[tuple[Support, str]]:
    """(support, text) per kind of handling, honoured first: "Renamed: guidance (sent as cfg)"."""
    groups: dict[Support, list[str]] = {s: [] for s in Support}
    for name in REQUEST_FIELDS:
        h = caps.handling(name)
        word = FIELD_WORDS.get(name, name)
        groups[h.support].append(f"{word} ({h.note})" if h.note and h.support != Support.HONOURED else word)
    return [(s, f"{s.value.capitalize()}: {', '.join(items)}") for s, items in groups.items() if items]


def handling_summary(caps: Capabilities) -> str:
    """Short: "renamed guidance · converted size · ignored safety" (or "every setting honoured")."""
    parts = []
    for support in (Support.RENAMED, Support.CONVERTED, Support.IGNORED):
        names = [FIELD_WORDS.get(n, n) for n in REQUEST_FIELDS if caps.handling(n).support == support]
        if names:
            parts.append(f"{support.value} {', '.join(names)}")
    return " · ".join(parts) or "every setting honoured"


class ResultCard(QFrame):
    """One job of the group."""

    winnerRequested = Signal(str)
    showRequested = Signal(str)
    ticked = Signal()

    def __init__(
        self,
        job_id: str,
        title: str,
        caps: Capabilities | None,
        *,
        compact: bool = False,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.job_id = job_id
        self.size_px = SWEEP_PICTURE if compact else PICTURE
        self.record: JobRecord | None = None
        self.state = ""
        self.setObjectName("resultcard")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setAccessibleName(f"Result of job {job_id}: {title}")
        lay = QVBoxLayout(self)
        lay.setContentsMargins(8, 8, 8, 8)
        lay.setSpacing(4)
        self.title = QLabel(title)
        self.title.setFont(theme.bold(self.title.font()))
        self.title.setWordWrap(True)
        self.picture = QLabel("…")
        self.picture.setFixedSize(self.size_px, self.size_px)
        self.picture.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.picture.setAccessibleName(f"Picture of job {job_id}")
        self.picture.setStyleSheet(
            f"background: {theme.palette().color(theme.palette().ColorRole.Midlight).name()};"
            " border-radius: 4px;"
        )
        self.state_label = QLabel()
        self.state_label.setWordWrap(True)
        self.state_label.setFont(theme.small_font(self))
        self.state_label.setAccessibleName("State")
        self.facts = QLabel()
        self.facts.setWordWrap(True)
        self.facts.setFont(theme.small_font(self))
        self.facts.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.facts.setAccessibleName("Latency, cost and seed")
        lay.addWidget(self.title)
        lay.addWidget(self.picture, 0, Qt.AlignmentFlag.AlignHCenter)
        lay.addWidget(self.state_label)
        lay.addWidget(self.facts)
        self.handling = QLabel()
        self.handling.setWordWrap(True)
        self.handling.setFont(theme.small_font(self))
        self.handling.setAccessibleName("How the provider handled the settings")
        if caps is not None and not compact:
            lines = handling_lines(caps)
            accents = {Support.IGNORED: "#e8590c", Support.RENAMED: "#1c7ed6", Support.CONVERTED: "#ae3ec9"}
            html = "<br>".join(
                (f"<span style='color:{accents[s]}'>{text}</span>" if s in accents else text)
                for s, text in lines
            )
            self.handling.setText(html)
            self.handling.setToolTip("What this provider did with each setting of the request")
            lay.addWidget(self.handling)
        buttons = QHBoxLayout()
        buttons.setSpacing(4)
        self.winner = QToolButton()
        self.winner.setText("Pick as winner")
        self.winner.setCheckable(True)
        self.winner.setAccessibleName(f"Pick job {job_id} as the winner")
        self.winner.setToolTip("Mark this result as the best of the group (kept in the history)")
        self.winner.clicked.connect(lambda: self.winnerRequested.emit(self.job_id))
        self.show_button = QToolButton()
        self.show_button.setText("Show")
        self.show_button.setToolTip("Show it in the compare view, before / after")
        self.show_button.clicked.connect(lambda: self.showRequested.emit(self.job_id))
        self.tick = QCheckBox("Compare")
        self.tick.setToolTip("Tick two results, then “Compare the two ticked”")
        self.tick.setAccessibleName(f"Compare job {job_id}")
        self.tick.toggled.connect(lambda _on: self.ticked.emit())
        buttons.addWidget(self.winner)
        buttons.addWidget(self.show_button)
        buttons.addStretch(1)
        buttons.addWidget(self.tick)
        lay.addLayout(buttons)
        self._set_enabled(False)

    def _set_enabled(self, has_output: bool) -> None:
        for w in (self.winner, self.show_button, self.tick):
            w.setEnabled(has_output)

    def update_event(self, ev: JobEvent) -> None:
        self.state = ev.state
        accent = theme.STATE_ACCENTS.get(ev.state, "#868e96")
        self.state_label.setText(
            f"<span style='color:{accent}'>●</span> {STATE_WORDS.get(ev.state, ev.state)} — "
            f"{html.escape(outcome_text(ev))}"
        )  # the provider's words, literally

    def update_record(self, rec: JobRecord) -> None:
        self.record = rec
        self.state = rec.state
        accent = theme.STATE_ACCENTS.get(rec.state, "#868e96")
        sentence = rec.error_message or rec.message or ""
        self.state_label.setText(
            f"<span style='color:{accent}'>●</span> {STATE_WORDS.get(rec.state, rec.state)}"
            + (f" — {html.escape(sentence)}" if sentence and rec.state != JobState.SUCCEEDED else "")
        )
        latency = f"{rec.latency_s:.1f} s" if rec.latency_s is not None else "— s"
        billed = theme.money(rec.billed_usd) if rec.billed_usd is not None else "not reported"
        quoted = theme.money(rec.quote_usd) if rec.quote_usd is not None else "unknown"
        self.facts.setText(f"Latency {latency} · quoted {quoted} · billed {billed}\nSeed {rec.request.seed}")
        self._set_enabled(bool(rec.outputs))
        self.set_winner(rec.winner)

    def set_winner(self, on: bool) -> None:
        self.winner.setChecked(on)
        self.winner.setText("★ Winner" if on else "Pick as winner")
        accent = "#f59f00"
        self.setStyleSheet(
            f"QFrame#resultcard {{ border: 2px solid {accent}; border-radius: 6px; }}" if on else ""
        )

    def set_picture(self, pix: QPixmap | None) -> None:
        if pix is not None and not pix.isNull():
            self.picture.setPixmap(pix)
            self.picture.setText("")


class GroupResults(QDialog):
    """A non-modal window over one group (``group_id``) of jobs."""

    showRequested = Signal(object)  # JobRecord
    compareRequested = Signal(object, object)  # two JobRecords
    winnerChosen = Signal(str)

    def __init__(
        self,
        group_id: str,
        kind: str,
        records: list[JobRecord],
        *,
        capabilities: Callable[[str], Capabilities | None],
        label: Callable[[str], str],
        thumbs: ThumbnailCache,
        set_winner: Callable[[str], None],
        reload: Callable[[str], JobRecord],
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.group_id = group_id
        self.kind = kind
        self.thumbs = thumbs
        self._set_winner = set_winner
        self._reload = reload
        self._label = label
        self.records = {r.id: r for r in records}
        self.cards: dict[str, ResultCard] = {}
        self.setModal(False)
        self.setWindowTitle("Provider comparison" if kind == "comparison" else "Sweep results")
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)  # closed windows do not pile up
        self.setAccessibleName(self.windowTitle())
        lay = QVBoxLayout(self)
        self.header = QLabel()
        self.header.setWordWrap(True)
        self.header.setAccessibleName("About these results")
        lay.addWidget(self.header)
        self.tabs: QTabBar | None = None
        self.seeds: list[int] = []
        body = QWidget()
        self.grid = QGridLayout(body)
        self.grid.setSpacing(8)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(body)
        if kind == "sweep":
            self.seeds = sorted({int(r.request.seed or 0) for r in records})
            if len(self.seeds) > 1:
                self.tabs = QTabBar()
                self.tabs.setAccessibleName("Seed")
                for s in self.seeds:
                    self.tabs.addTab(f"seed {s}")
                self.tabs.currentChanged.connect(self._show_seed)
                lay.addWidget(self.tabs)
        lay.addWidget(scroll, 1)
        foot = QHBoxLayout()
        self.compare_button = QPushButton("Compare the two ticked")
        self.compare_button.setEnabled(False)
        self.compare_button.clicked.connect(self._compare)
        self.summary = QLabel()
        self.summary.setFont(theme.small_font(self))
        close = QPushButton("Close")
        close.clicked.connect(self.close)
        foot.addWidget(self.summary, 1)
        foot.addWidget(self.compare_button)
        foot.addWidget(close)
        lay.addLayout(foot)
        for rec in records:
            caps = capabilities(rec.provider)
            card = ResultCard(rec.id, self._title(rec), caps, compact=kind == "sweep")
            card.winnerRequested.connect(self.choose_winner)
            card.showRequested.connect(lambda jid: self.showRequested.emit(self.records[jid]))
            card.ticked.connect(self._ticks_changed)
            card.update_record(rec)
            self.cards[rec.id] = card
        self._place()
        self._refresh_header()
        thumbs.ready.connect(self._thumb_ready)
        for rec in records:
            self._load_picture(rec)
        rows = len({r.request.steps for r in records}) if kind == "sweep" else (len(records) + 3) // 4
        hint = next(iter(self.cards.values())).sizeHint() if self.cards else None
        card_w, card_h = (hint.width() + 10, hint.height() + 10) if hint is not None else (270, 460)
        self.resize(min(1400, 90 + card_w * max(1, self._columns())), min(900, 150 + card_h * max(1, rows)))

    # ------------------------------------------------------------------ layout
    def _title(self, rec: JobRecord) -> str:
        if self.kind == "sweep":
            return settings_words(rec.request)
        return self._label(rec.provider)

    def _columns(self) -> int:
        if self.kind == "sweep":
            return len({r.request.guidance for r in self.records.values()})
        return min(4, len(self.records))

    def _place(self) -> None:
        while self.grid.count():
            item = self.grid.takeAt(0)
            w = item.widget() if item is not None else None
            if w is not None and w not in self.cards.values():
                w.deleteLater()
            elif w is not None:
                w.hide()
        if self.kind != "sweep":
            for i, rec in enumerate(self.records.values()):
                card = self.cards[rec.id]
                self.grid.addWidget(card, i // 4, i % 4, Qt.AlignmentFlag.AlignTop)
                card.show()
            return
        steps = sorted({r.request.steps for r in self.records.values()})
        guidance = sorted({r.request.guidance for r in self.records.values()})
        seed = self.seeds[self.tabs.currentIndex()] if self.tabs is not None else None
        for c, g in enumerate(guidance, start=1):
            head = QLabel(f"guidance {g:g}")
            head.setFont(theme.bold(head.font()))
            head.setAlignment(Qt.AlignmentFlag.AlignCenter)
            self.grid.addWidget(head, 0, c)
        for r_, s in enumerate(steps, start=1):
            head = QLabel(f"{s}\nsteps")
            head.setFont(theme.bold(head.font()))
            head.setAlignment(Qt.AlignmentFlag.AlignCenter)
            self.grid.addWidget(head, r_, 0)
        for rec in self.records.values():
            if seed is not None and int(rec.request.seed or 0) != seed:
                continue
            card = self.cards[rec.id]
            self.grid.addWidget(
                card,
                steps.index(rec.request.steps) + 1,
                guidance.index(rec.request.guidance) + 1,
                Qt.AlignmentFlag.AlignTop,
            )
            card.show()

    def _show_seed(self, _index: int) -> None:
        self._place()

    def visible_cards(self) -> list[ResultCard]:
        return [c for c in self.cards.values() if not c.isHidden()]

    # ------------------------------------------------------------------ following the jobs
    def on_event(self, ev: JobEvent) -> None:
        card = self.cards.get(ev.job_id)
        if card is None:
            return
        if is_terminal(ev.state):
            self.refresh(ev.job_id)
        else:
            card.update_event(ev)

    def refresh(self, job_id: str) -> None:
        try:
            rec = self._reload(job_id)
        except KeyError:
            return
        self.records[job_id] = rec
        self.cards[job_id].update_record(rec)
        self._load_picture(rec)
        self._refresh_header()

    def _refresh_header(self) -> None:
        recs = list(self.records.values())
        done = sum(1 for r in recs if is_terminal(r.state))
        quoted = sum(r.quote_usd or 0.0 for r in recs)
        billed = [r.billed_usd for r in recs if r.billed_usd is not None]
        seed_text = ""
        seeds = {r.request.seed for r in recs}
        if self.kind == "comparison":
            seed = next(iter(seeds)) if len(seeds) == 1 else None
            what = f"{len(recs)} providers, the same prompt, references and settings" + (
                f", one seed ({seed}) for all" if seed is not None else ""
            )
        else:
            steps = sorted({r.request.steps for r in recs})
            guidance = sorted({r.request.guidance for r in recs})
            what = (
                f"{len(steps)} steps × {len(guidance)} guidance × {len(seeds)} seed"
                f"{'s' if len(seeds) != 1 else ''} = {len(recs)} edits on {self._label(recs[0].provider)}"
            )
        text = f"{what}. Quoted {theme.money(quoted)} in all"
        unknown = sorted({self._label(r.provider) for r in recs if r.quote_usd is None})
        if unknown:
            text += f" (no price known for {', '.join(unknown)})"
        if billed:
            text += f"; billed {theme.money(sum(billed))} so far"
        self.header.setText(text + "." + seed_text)
        winner = next((r for r in recs if r.winner), None)
        self.summary.setText(
            f"{done} of {len(recs)} finished"
            + (f" · winner: {job_words(self._label(winner.provider), winner.request)}" if winner else "")
        )

    def done_count(self) -> int:
        return sum(1 for r in self.records.values() if is_terminal(r.state))

    # ------------------------------------------------------------------ pictures
    def _load_picture(self, rec: JobRecord) -> None:
        if rec.outputs:
            card = self.cards[rec.id]
            card.set_picture(self.thumbs.get(rec.outputs[0].sha256, card.size_px))

    def _thumb_ready(self, sha: str, size: int) -> None:
        for rec in self.records.values():
            card = self.cards[rec.id]
            if size == card.size_px and rec.outputs and rec.outputs[0].sha256 == sha:
                card.set_picture(self.thumbs.peek(sha, size))

    # ------------------------------------------------------------------ actions
    def choose_winner(self, job_id: str) -> None:
        self._set_winner(job_id)
        for jid in list(self.records):
            self.refresh(jid)
        self.winnerChosen.emit(job_id)

    def ticked(self) -> list[JobRecord]:
        return [self.records[jid] for jid, card in self.cards.items() if card.tick.isChecked()]

    def _ticks_changed(self) -> None:
        self.compare_button.setEnabled(len(self.ticked()) == 2)

    def _compare(self) -> None:
        pair = self.ticked()
        if len(pair) == 2:
            self.compareRequested.emit(pair[0], pair[1])

    def closeEvent(self, e: Any) -> None:
        try:
            self.thumbs.ready.disconnect(self._thumb_ready)
        except (RuntimeError, TypeError):
            pass
        super().closeEvent(e)
