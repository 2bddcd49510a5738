"""The compare view: toolbar (modes, difference threshold, zoom) over the canvas. Images are decoded
and the difference heat-map computed in worker threads; the latest request wins."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QImage, QPixmap
from PySide6.QtWidgets import (
    QButtonGroup,
    QHBoxLayout,
    QLabel,
    QRadioButton,
    QSizePolicy,
    QSlider,
    QToolBar,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from ..models.aio import asyncio
from . import theme
from .before_after_canvas import MODE_LABELS, MODES, CompareCanvas

if TYPE_CHECKING:
    from ..models.tasks import TaskRunner


MODE_STYLE = """
QRadioButton#modebutton { spacing: 0px; padding: 3px 9px; border: 1px solid palette(mid); border-radius: 4px; }
QRadioButton#modebutton::indicator { width: 0px; height: 0px; border: none; background: transparent; image: none; }
QRadioButton#modebutton:checked { background: palette(highlight); color: palette(highlighted-text); }
QRadioButton#modebutton:focus { border: 2px solid palette(text); }
"""


@dataclass(frozen=True)
class Picture:
    """One side of the comparison: a blob and how to show it."""

    sha256: str
    label: str
    max_side: int = 4096  # decode no larger than this (a 24 MP reference is shown at its sent size)
    original: bool = False  # a provider result: decode the bytes as they are (no re-encoding)


def to_qimage(im: Any) -> QImage:
    """Worker-thread side: a Pillow image as a QImage in the pixmap's own format (RGB32), so that
    ``QPixmap.fromImage`` on the GUI thread is a plain copy. Pillow does the conversion (it releases
    the GIL; Qt's decoders called through PySide hold it, and would stall the GUI thread)."""
    if im.mode != "RGB":
        im = im.convert("RGB")
    raw = im.tobytes("raw", "BGRX")
    return QImage(raw, im.width, im.height, im.width * 4, QImage.Format.Format_RGB32).copy()


def decode_picture(data: bytes, pic: Picture) -> QImage:
    """Worker-thread side: the picture no larger than ``pic.max_side``, ready for a QPixmap."""
    return to_qimage(_open_rgb(data, pic.original, pic.max_side))


def _open_rgb(data: bytes, original: bool, max_side: int) -> Any:
    from io import BytesIO

    from PIL import Image

    from ...core import images

    if not original:  # a reference: any format, EXIF orientation, colour profile — let core handle it
        data = images.thumbnail(data, max_side)
    with Image.open(BytesIO(data)) as im:
        if im.format == "JPEG" and max(im.size) > 2 * max_side:
            im.draft("RGB", (max_side, max_side))  # decode at a reduced DCT scale: much faster
        if im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info):
            rgba = im.convert("RGBA")  # transparency shown on white, as a viewer would
            rgb = Image.new("RGB", rgba.size, (255, 255, 255))
            rgb.paste(rgba, mask=rgba.getchannel("A"))
        else:
            rgb = im.convert("RGB")
    if max(rgb.size) > max_side:
        rgb.thumbnail((max_side, max_side))
    return rgb


def difference(
    before: bytes, before_original: bool, after: bytes, after_original: bool, max_side: int
) -> Any:
    """Worker-thread side: the per-pixel difference (Pillow "L" image) at the after image's size, with the
    before image cover-fitted to it as the canvas shows it; and a grey copy of the after image."""
    from PIL import Image, ImageChops, ImageOps

    a = _open_rgb(after, after_original, max_side)
    b = ImageOps.fit(_open_rgb(before, before_original, max(a.size)), a.size, Image.Resampling.BILINEAR)
    return ImageChops.difference(a, b).convert("L"), ImageOps.grayscale(a)


def heatmap(diff: Any, grey: Any, threshold: int) -> tuple[QImage, float]:
    """Worker-thread side: changed pixels (difference ≥ ``threshold``) glow red→yellow over a dimmed
    grey copy of the result. Returns the image and the share of pixels changed."""
    from PIL import Image, ImageOps

    mask = diff.point(lambda v: 255 if v >= threshold else 0)
    changed = mask.histogram()[255] / max(1, diff.width * diff.height)
    hot = ImageOps.colorize(
        diff.point(lambda v: min(255, v * 3)), black="#5a0000", mid="#ff3b00", white="#fff27a"
    )
    base = grey.point(lambda v: v // 3 + 20).convert("RGB")
    return to_qimage(Image.composite(hot, base, mask)), changed


class CompareView(QWidget):
    compareWithRequested = Signal()
    canvas: CompareCanvas  # made below the toolbar whose buttons drive it

    def __init__(self, read: Any, tasks: TaskRunner, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.read = read  # sha → bytes (the blob store)
        self.tasks = tasks
        self.before_pic: Picture | None = None
        self.after_pic: Picture | None = None
        self._diff_source: tuple[Any, Any] | None = None
        self._diff_key: tuple[str, str] | None = None
        self.changed_share: float | None = None
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(0)
        # A tool bar: what does not fit goes into its "»" menu instead of widening the window.
        bar = QToolBar()
        bar.setObjectName("comparebar")
        bar.setMovable(False)
        bar.setFloatable(False)
        bar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        bar.setContentsMargins(4, 2, 4, 2)
        self.bar = bar
        # The modes are a radio group (one Tab stop, the arrow keys pick), drawn as segmented buttons.
        modes = QWidget()
        modes.setObjectName("modes")
        modes.setAccessibleName("Compare mode")
        modes.setStyleSheet(MODE_STYLE)
        ml = QHBoxLayout(modes)
        ml.setContentsMargins(0, 0, 0, 0)
        ml.setSpacing(2)
        self.mode_group = QButtonGroup(self)
        self.mode_buttons: dict[str, QRadioButton] = {}
        for i, mode in enumerate(MODES):
            b = QRadioButton(MODE_LABELS[mode])
            b.setObjectName("modebutton")
            b.setToolTip(f"{MODE_LABELS[mode]} (M cycles the modes; Space flips)")
            b.toggled.connect(self._mode_focus)
            self.mode_group.addButton(b, i)
            self.mode_buttons[mode] = b
            ml.addWidget(b)
        bar.addWidget(modes)
        self.modes = modes
        self.mode_buttons["wipe"].setChecked(True)
        self.mode_group.idToggled.connect(self._mode_toggled)
        self.threshold_label = QLabel("Threshold")
        self.threshold = QSlider(Qt.Orientation.Horizontal)
        self.threshold.setRange(1, 128)
        self.threshold.setValue(24)
        self.threshold.setMinimumWidth(60)
        self.threshold.setMaximumWidth(120)
        self.threshold.setAccessibleName("Difference threshold")
        self.threshold.setToolTip("Pixels that differ by at least this much (of 255) are marked as changed")
        self.threshold.valueChanged.connect(self._threshold_moved)
        self.threshold_label.setBuddy(self.threshold)
        self.changed_label = QLabel()
        self.changed_label.setFont(theme.small_font(self))
        self._diff_actions = [bar.addSeparator()]
        for part in (self.threshold_label, self.threshold, self.changed_label):
            self._diff_actions.append(bar.addWidget(part))
        spacer = QWidget()
        spacer.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        spacer.setMinimumWidth(0)
        bar.addWidget(spacer)
        self.zoom_label = QLabel("")
        self.zoom_label.setFont(theme.small_font(self))
        self.zoom_label.setMinimumWidth(40)
        self.zoom_label.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        self.fit_button = QToolButton()
        self.fit_button.setText("Fit")
        self.fit_button.setToolTip("Zoom to fit (Ctrl+0; double-click the image)")
        self.fit_button.clicked.connect(lambda: self.canvas.set_zoom(None))
        self.actual_button = QToolButton()
        self.actual_button.setText("100 %")
        self.actual_button.setToolTip("Actual pixels (Ctrl+1); the wheel zooms")
        self.actual_button.clicked.connect(lambda: self.canvas.set_zoom(1.0))
        self.swap_button = QToolButton()
        self.swap_button.setText("Swap")
        self.swap_button.setToolTip("Swap before and after (C)")
        self.swap_button.clicked.connect(self.swap)
        self.compare_button = QToolButton()
        self.compare_button.setText("Compare with…")
        self.compare_button.setToolTip("Pick any two images from the history to compare")
        self.compare_button.clicked.connect(self.compareWithRequested)
        for tool in (
            self.zoom_label,
            self.fit_button,
            self.actual_button,
            self.swap_button,
            self.compare_button,
        ):
            bar.addWidget(tool)
        lay.addWidget(bar)
        self.canvas = CompareCanvas()
        lay.addWidget(self.canvas, 1)
        self.canvas.zoomChanged.connect(self._zoom_shown)
        self.canvas.modeChanged.connect(self._mode_shown)
        self._threshold_timer = QTimer(self, singleShot=True, interval=30)
        self._threshold_timer.timeout.connect(self._recolour)
        self._mode_shown(self.canvas.mode)

    # ------------------------------------------------------------------ modes
    @property
    def mode(self) -> str:
        return self.canvas.mode

    def set_mode(self, mode: str) -> None:
        self.canvas.set_mode(mode)
        if mode == "diff":
            self._start_diff()

    def cycle_mode(self) -> None:
        self.set_mode(MODES[(MODES.index(self.canvas.mode) + 1) % len(MODES)])

    def flip(self) -> None:
        self.canvas.flip()

    def swap(self) -> None:
        self.before_pic, self.after_pic = self.after_pic, self.before_pic
        self.canvas.swap()
        self._diff_source = None
        if self.mode == "diff":
            self._start_diff()

    def _mode_toggled(self, i: int, on: bool) -> None:
        if on and MODES[i] != self.mode:
            self.set_mode(MODES[i])

    def _mode_focus(self, _on: bool) -> None:
        """Tab stops at the checked mode only; the arrow keys move within the group."""
        for b in self.mode_buttons.values():
            b.setFocusPolicy(Qt.FocusPolicy.StrongFocus if b.isChecked() else Qt.FocusPolicy.ClickFocus)

    def _mode_shown(self, mode: str) -> None:
        self.mode_buttons[mode].setChecked(True)
        diff = mode == "diff"
        for action in self._diff_actions:  # widgets in a tool bar show and hide by their actions
            action.setVisible(diff)

    def _zoom_shown(self, zoom: float | None) -> None:
        if self.canvas.frame_size().isEmpty():
            self.zoom_label.setText("")
        else:
            self.zoom_label.setText(f"{self.canvas.scale() * 100:.0f} %")

    # ------------------------------------------------------------------ content
    def show_pair(self, before: Picture | None, after: Picture | None) -> asyncio.Task[None]:
        """Load both pictures off the GUI thread, then show them (a newer call wins)."""
        self.before_pic, self.after_pic = before, after
        self._diff_source = None
        self.canvas.set_labels(before.label if before else "Before", after.label if after else "After")
        return self.tasks.spawn(self._load(before, after), what="Showing the images", key="compare-load")

    def set_before(self, before: Picture | None) -> asyncio.Task[None]:
        return self.show_pair(before, self.after_pic)

    async def _load(self, before: Picture | None, after: Picture | None) -> None:
        def work(pic: Picture | None) -> QImage | None:
            return None if pic is None else decode_picture(self.read(pic.sha256), pic)

        b_img, a_img = await asyncio.gather(asyncio.to_thread(work, before), asyncio.to_thread(work, after))
        same_frame = (
            a_img is not None and self.canvas.after is not None and self.canvas.after.size() == a_img.size()
        )
        self.canvas.set_images(
            QPixmap.fromImage(b_img) if b_img is not None else None,
            QPixmap.fromImage(a_img) if a_img is not None else None,
            keep_view=same_frame,
        )
        if self.mode == "diff":
            self._start_diff()

    # ------------------------------------------------------------------ difference
    def _start_diff(self) -> None:
        if self.before_pic is None or self.after_pic is None:
            self.changed_label.setText("needs two images")
            return
        self.tasks.spawn(
            self._diff(self.before_pic, self.after_pic, self.threshold.value()),
            what="Computing the difference",
            key="compare-diff",
        )

    def _threshold_moved(self, _v: int) -> None:
        self._threshold_timer.start()

    def _recolour(self) -> None:
        if self.mode == "diff":
            self._start_diff()

    async def _diff(self, before: Picture, after: Picture, threshold: int) -> None:
        key = (before.sha256, after.sha256)
        if self._diff_source is None or self._diff_key != key:
            self.changed_label.setText("computing…")
            source = await asyncio.to_thread(
                lambda: difference(
                    self.read(before.sha256),
                    before.original,
                    self.read(after.sha256),
                    after.original,
                    after.max_side,
                )
            )
            self._diff_source, self._diff_key = source, key
        diff, grey = self._diff_source
        image, share = await asyncio.to_thread(heatmap, diff, grey, threshold)
        self.changed_share = share
        self.changed_label.setText(f"{share * 100:.1f} % changed")
        self.canvas.set_diff(QPixmap.fromImage(image))
