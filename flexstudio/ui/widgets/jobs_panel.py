"""The jobs list: one card per job of this session, newest first, with its state, queue position,
progress, a cancel button, and the human sentence it ends with. A card is a Tab stop named by what it
shows (Enter shows its image); a job's start and end are announced to a screen reader. An interrupted
job (the provider may still finish it) says "Waiting for <provider> — will fetch it." with Try again
and Give up."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from PySide6.QtCore import QSize, Qt, Signal, SignalInstance
from PySide6.QtGui import QColor, QKeyEvent, QMouseEvent, QPainter, QPaintEvent
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QScrollArea,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from ...core.job_state import JobState
from ..models.jobs_model import is_terminal
from . import theme
from .a11y import announcer, chain
from .labels import ElidingLabel, literal_tip, plain

if TYPE_CHECKING:
    from ...jobs.events import JobEvent
    from ..models.jobs_model import JobsModel

ADVICE = {
    "auth": "Check the key in Settings → Keys.",
    "credits": "Add credits at the provider, then run again.",
    "rate_limited": "The provider is busy: wait a moment and run again.",
    "validation": "Change the setting the provider refused and run again.",
    "network": "Check the connection and run again.",
    "timeout": "Run it again later, or try another provider.",
    "provider": "Run it again, or try another provider.",
    "expired": "The provider no longer has the result: run it again.",
    "bad_input": "Fix the input and run again.",
}
STATE_WORDS = {
    JobState.QUEUED: "Queued",
    JobState.SUBMITTING: "Sending",
    JobState.RUNNING: "Running",
    JobState.DOWNLOADING: "Downloading",
    JobState.SUCCEEDED: "Succeeded",
    JobState.FAILED: "Failed",
    JobState.MODERATED: "Moderated",
    JobState.CANCELLED: "Cancelled",
    JobState.INTERRUPTED: "Waiting",
}


def outcome_text(ev: JobEvent) -> str:
    """The sentence a job card shows for an event: progress while running, the outcome at the end."""
    if ev.state == JobState.QUEUED:
        return (
            f"In the queue, position {ev.queue_position}."
            if ev.queue_position
            else (ev.message or "Waiting.")
        )
    if ev.state in (JobState.SUBMITTING, JobState.RUNNING, JobState.DOWNLOADING):
        if ev.queue_position:
            return f"In the provider's queue, position {ev.queue_position}."
        return ev.message or STATE_WORDS[ev.state] + "…"
    if ev.state == JobState.FAILED:
        why = ev.error_message or "the provider gave no reason."
        advice = ADVICE.get(ev.error_kind or "", "")
        if advice and ("Settings" in why or advice.split(":")[0] in why):
            advice = ""
        return f"Failed: {why} {advice}".strip()
    if ev.state == JobState.MODERATED:
        # ev.message is the provider's billing rule for moderated jobs (not billed / may be / unknown).
        billing = (
            ev.message if (ev.message or "").startswith("Moderated — ") else "Moderated — billing unknown."
        )
        return f"{billing} {ev.error_message or ''}".strip()
    if ev.state == JobState.INTERRUPTED:
        return ev.message or "Waiting for the provider — will fetch it."
    return ev.message or STATE_WORDS.get(ev.state, ev.state)


def _in_provider_queue(ev: JobEvent) -> bool:
    """Sent, and waiting in the provider's queue: the card says "Queued", not "Running"."""
    return ev.state == JobState.RUNNING and (ev.waiting or bool(ev.queue_position))


class StateDot(QWidget):
    """The coloured dot of a job's state: painted, not a "●" character a screen reader would read."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.colour = QColor("#868e96")
        self.setFixedSize(QSize(10, 10))

    def set_colour(self, colour: str) -> None:
        self.colour = QColor(colour)
        self.update()

    def paintEvent(self, e: QPaintEvent) -> None:
        # The painter is ended here, not when Python frees it: anything that keeps this frame alive (a
        # traceback, a debugger, a stack sampler) would otherwise leave it active on the window's backing
        # store, and the next widget painted there (a busy QProgressBar) crashes inside Qt.
        with QPainter(self) as p:
            p.setRenderHint(QPainter.RenderHint.Antialiasing)
            p.setPen(Qt.PenStyle.NoPen)
            p.setBrush(self.colour)
            p.drawEllipse(self.rect().adjusted(1, 1, -1, -1))


class JobCard(QFrame):
    cancelRequested = Signal(str)
    retryRequested = Signal(str)
    giveUpRequested = Signal(str)
    activated = Signal(str)

    def __init__(self, job_id: str, title: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.job_id = job_id
        self.state = ""
        self.spoken = title  # what a screen reader calls the job (the window gives its prompt)
        self.setObjectName("jobcard")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setStyleSheet(
            "QFrame#jobcard:focus { border: 2px solid palette(highlight); border-radius: 4px; }"
        )
        lay = QVBoxLayout(self)
        lay.setContentsMargins(8, 4, 6, 4)
        lay.setSpacing(2)
        head = QHBoxLayout()
        head.setSpacing(6)
        self.dot = StateDot()
        self.title = ElidingLabel(title)
        self.title.setFont(theme.bold(theme.small_font(self, 0)))
        self.state_label = plain(QLabel())
        self.state_label.setFont(theme.small_font(self))
        self.cancel = QToolButton()
        self.cancel.setText("Cancel")
        self.cancel.setToolTip("Cancel this job (Esc cancels the latest)")
        self.cancel.setAutoRaise(True)
        self.cancel.clicked.connect(lambda: self.cancelRequested.emit(self.job_id))
        self.retry = self._button(
            "Try again",
            f"Try again to fetch job {job_id}",
            "Ask the provider for this job now (FlexStudio also tries every few minutes)",
            self.retryRequested,
        )
        self.give_up = self._button(
            "Give up",
            f"Give up job {job_id}",
            "Stop waiting for this job: it is never fetched (the provider may still have billed it)",
            self.giveUpRequested,
        )
        head.addWidget(self.dot)
        head.addWidget(self.title, 1)
        head.addWidget(self.state_label)
        head.addWidget(self.retry)
        head.addWidget(self.give_up)
        head.addWidget(self.cancel)
        lay.addLayout(head)
        self.progress = QProgressBar()
        self.progress.setMaximumHeight(8)
        self.progress.setTextVisible(False)
        self.progress.setRange(0, 0)
        self.progress.setAccessibleName("Progress")
        lay.addWidget(self.progress)
        self.sentence = plain(QLabel())  # the provider's own words, shown literally
        self.sentence.setWordWrap(True)
        self.sentence.setFont(theme.small_font(self))
        self.sentence.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        lay.addWidget(self.sentence)
        self._name()

    def _name(self) -> None:
        """What a screen reader says on the card: the whole title, the state and the sentence."""
        self.setAccessibleName(f"{self.spoken} — {self.state_label.text() or 'starting'}")
        self.setAccessibleDescription(f"{self.sentence.text()} {self.title.full_text()}".strip())
        self.cancel.setAccessibleName(f"Cancel {self.spoken}")

    def set_title(self, title: str, spoken: str | None = None) -> None:
        self.title.setText(title)
        if spoken:
            self.spoken = spoken
        self._name()

    def _button(self, text: str, name: str, tip: str, signal: SignalInstance) -> QToolButton:
        b = QToolButton()
        b.setText(text)
        b.setToolTip(tip)
        b.setAccessibleName(name)
        b.setAutoRaise(True)
        b.clicked.connect(lambda: signal.emit(self.job_id))
        b.hide()
        return b

    def update_event(
        self, ev: JobEvent, extra: str = "", *, resumable: bool = False, fetchable: bool = True
    ) -> None:
        """``resumable``: an interrupted job the user may give up; ``fetchable``: it also has a handle to
        ask the provider with (a submit whose answer was lost has none: Give up only)."""
        self.state = ev.state
        accent = theme.STATE_ACCENTS.get(ev.state, "#868e96")
        self.dot.set_colour(accent)
        word = "Queued" if _in_provider_queue(ev) else STATE_WORDS.get(ev.state, ev.state)
        self.state_label.setText(word + (f" · {extra}" if extra else ""))
        done = is_terminal(ev.state)
        self.cancel.setVisible(not done)
        self.progress.setVisible(not done)
        waiting = ev.state == JobState.INTERRUPTED and resumable
        self.retry.setVisible(waiting and fetchable)
        self.give_up.setVisible(waiting)
        if not done:
            if ev.progress is not None and ev.state == JobState.RUNNING and not _in_provider_queue(ev):
                self.progress.setRange(0, 100)
                self.progress.setValue(round(ev.progress * 100))
            else:
                self.progress.setRange(0, 0)  # busy
        self.sentence.setText(outcome_text(ev))
        detail = f"\n{ev.error_message}" if ev.state == JobState.INTERRUPTED and ev.error_message else ""
        self.setToolTip(literal_tip(f"Job {ev.job_id}: {outcome_text(ev)}{detail}"))
        self._name()

    def cancel_requested_text(self, text: str) -> None:
        self.sentence.setText(text)
        self.cancel.setEnabled(False)
        self._name()

    def keyPressEvent(self, e: QKeyEvent) -> None:
        if e.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter, Qt.Key.Key_Space):
            self.activated.emit(self.job_id)
            e.accept()
            return
        super().keyPressEvent(e)

    def mouseDoubleClickEvent(self, e: QMouseEvent) -> None:
        self.activated.emit(self.job_id)
        super().mouseDoubleClickEvent(e)

    def mousePressEvent(self, e: QMouseEvent) -> None:
        self.activated.emit(self.job_id)
        super().mousePressEvent(e)


class CardsArea(QScrollArea):
    """The scrolled list of cards: at its smallest it shows one whole card (what the panel promises)."""

    def __init__(self, one_card: Callable[[], int]) -> None:
        super().__init__()
        self._one_card = one_card

    def minimumSizeHint(self) -> QSize:
        return QSize(super().minimumSizeHint().width(), self._one_card())


class JobsPanel(QWidget):
    """``describe(job_id) -> (title, extra)`` gives a card its title (provider, price); ``speak(job_id)``
    what a screen reader calls it (its prompt and provider)."""

    cancelRequested = Signal(str)
    retryRequested = Signal(str)
    giveUpRequested = Signal(str)
    activated = Signal(str)

    KEEP_FINISHED = 6
    ROWS = 3  # room for three running jobs when the screen allows it, one at the least

    def __init__(
        self,
        jobs: JobsModel,
        describe: Callable[[str], tuple[str, str]],
        parent: QWidget | None = None,
        *,
        speak: Callable[[str], str] | None = None,
        resumable: Callable[[str], bool] | None = None,
        fetchable: Callable[[str], bool] | None = None,
        shown_elsewhere: Callable[[str], bool] | None = None,
    ) -> None:
        super().__init__(parent)
        self.jobs = jobs
        self.describe = describe
        self.speak = speak
        self.resumable = resumable or (lambda _job_id: False)
        self.fetchable = fetchable or self.resumable
        # A job shown elsewhere (an input of a batch: the Batch dialog's card shows the whole batch) gets no
        # card of its own: 200 cards with busy progress bars would stall the window.
        self.shown_elsewhere = shown_elsewhere or (lambda _job_id: False)
        self.elsewhere: set[str] = set()
        self.cards: dict[str, JobCard] = {}
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(4)
        head = QHBoxLayout()
        self.title = QLabel("Jobs")
        self.title.setFont(theme.bold(self.title.font()))
        self.clear_button = QToolButton()
        self.clear_button.setText("Clear finished")
        self.clear_button.setAutoRaise(True)
        self.clear_button.clicked.connect(self.clear_finished)
        head.addWidget(self.title)
        head.addStretch(1)
        head.addWidget(self.clear_button)
        lay.addLayout(head)
        self._head = head
        self.scroll_area = CardsArea(lambda: self._card_height() + self.list.spacing())
        self.scroll_area.setWidgetResizable(True)
        self.scroll_area.setFrameShape(QFrame.Shape.NoFrame)
        self.scroll_area.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.scroll_area.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # the cards are the Tab stops
        inner = QWidget()
        self.list = QVBoxLayout(inner)
        self.list.setContentsMargins(0, 0, 0, 0)
        self.list.setSpacing(4)
        self.empty = QLabel("No jobs yet. Run (Ctrl+Enter) starts one; several can run at once.")
        self.empty.setWordWrap(True)
        self.empty.setFont(theme.small_font(self))
        self.empty.setStyleSheet(f"color: {theme.muted().name()};")
        self.list.addWidget(self.empty)
        self.list.addStretch(1)
        self.scroll_area.setWidget(inner)
        lay.addWidget(self.scroll_area, 1)
        jobs.jobChanged.connect(self._on_event)
        self._row_height = 0

    def _card_height(self) -> int:
        if not self._row_height:  # a running card (progress shown), measured once
            probe = JobCard("0" * 12, "Provider · $0.00")
            probe.sentence.setText("Running…")
            self._row_height = probe.sizeHint().height()
            probe.deleteLater()
        return self._row_height

    def _height_for(self, rows: int) -> int:
        head = self._head.sizeHint().height()  # the title's line: as tall as its button
        spacing = self.list.spacing()
        outer = self.layout()
        return head + (outer.spacing() if outer is not None else 4) + rows * (self._card_height() + spacing)

    def sizeHint(self) -> QSize:
        return QSize(super().sizeHint().width(), self._height_for(self.ROWS))

    def minimumSizeHint(self) -> QSize:
        return QSize(super().minimumSizeHint().width(), self._height_for(1))

    def _on_event(self, ev: JobEvent) -> None:
        card = self.cards.get(ev.job_id)
        if card is None and (ev.job_id in self.elsewhere or self.shown_elsewhere(ev.job_id)):
            self.elsewhere.add(ev.job_id)
            return
        done = is_terminal(ev.state)
        extra = ""
        if card is None or done:  # the history is read only when a card appears and when it ends
            title, extra = self.describe(ev.job_id)
            spoken = self.speak(ev.job_id) if self.speak is not None else None
            if card is None:
                card = JobCard(ev.job_id, title)
                card.set_title(title, spoken)
                card.cancelRequested.connect(self.cancelRequested)
                card.retryRequested.connect(self.retryRequested)
                card.giveUpRequested.connect(self.giveUpRequested)
                card.activated.connect(self.activated)
                self.cards[ev.job_id] = card
                self.list.insertWidget(0, card)
                self.empty.hide()
                self._trim()
                chain(
                    [
                        self.clear_button,
                        *(w for c in self._ordered() for w in (c, c.retry, c.give_up, c.cancel)),
                    ]
                )
            else:
                card.set_title(title, spoken)
        was = card.state
        resumable = ev.state == JobState.INTERRUPTED and self.resumable(ev.job_id)
        card.update_event(ev, extra, resumable=resumable, fetchable=resumable and self.fetchable(ev.job_id))
        if done and was != ev.state:
            announcer().say(
                card,
                f"Job {STATE_WORDS.get(ev.state, ev.state).lower()}: {card.spoken}. {card.sentence.text()}",
                assertive=ev.state in ("failed", "interrupted"),
            )
        elif not was:
            announcer().say(card, f"Job started: {card.spoken}.")

    def mark_cancel_requested(self, job_id: str, text: str) -> None:
        card = self.cards.get(job_id)
        if card is not None:
            card.cancel_requested_text(text)

    def _trim(self) -> None:
        finished = [c for c in self._ordered() if is_terminal(c.state)]
        for card in finished[self.KEEP_FINISHED :]:
            self._drop(card)

    def _ordered(self) -> list[JobCard]:
        out = []
        for i in range(self.list.count()):
            item = self.list.itemAt(i)
            w = item.widget() if item is not None else None
            if isinstance(w, JobCard):
                out.append(w)
        return out

    def _drop(self, card: JobCard) -> None:
        self.cards.pop(card.job_id, None)
        self.list.removeWidget(card)
        card.deleteLater()

    def clear_finished(self) -> None:
        for card in [c for c in self._ordered() if is_terminal(c.state)]:
            self._drop(card)
        self.empty.setVisible(not self.cards)

    def card(self, job_id: str) -> JobCard | None:
        return self.cards.get(job_id)

    def sentence_of(self, job_id: str) -> str:
        card = self.cards.get(job_id)
        return card.sentence.text() if card else ""
