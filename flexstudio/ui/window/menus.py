"""The window's actions and menus: File, Edit, View, Run, Help. Each action is made once here; the
shortcut sheet lists them, so keys, menus and the sheet agree."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence

from ..widgets import shortcuts

if TYPE_CHECKING:
    from PySide6.QtWidgets import QMenuBar

    from ..models.workbench import Workbench
    from ..widgets.before_after import CompareView
    from ..widgets.history_panel import HistoryPanel
    from ..widgets.tray import ReferenceTray
    from .controller import WindowController


class MenuHost(Protocol):
    """The window the menus are built on (``MainWindow``)."""

    wb: Workbench
    tray: ReferenceTray
    history: HistoryPanel
    compare: CompareView

    def menuBar(self) -> QMenuBar: ...
    def addAction(self, action: QAction) -> None: ...
    def close(self) -> bool: ...
    def set_history_visible(self, on: bool) -> None: ...
    def show_shortcuts(self) -> None: ...
    def about(self) -> None: ...


@dataclass
class Actions:
    groups: list[tuple[str, list[QAction]]] = field(default_factory=list)
    by_name: dict[str, QAction] = field(default_factory=dict)

    def __getitem__(self, name: str) -> QAction:
        return self.by_name[name]


def build_menus(w: MenuHost, c: WindowController) -> Actions:
    """The actions of window ``w``; what most of them do is the controller ``c``'s."""
    acts = Actions()
    bar = w.menuBar()

    def make(
        menu: Any,
        group: list[QAction],
        name: str,
        text: str,
        slot: Callable[..., Any],
        keys: tuple[str | QKeySequence.StandardKey, ...] = (),
        *,
        context: Qt.ShortcutContext | None = None,
        checkable: bool = False,
        tip: str = "",
    ) -> QAction:
        a = QAction(text, bar)  # owned by the window's menu bar
        if keys:
            a.setShortcuts([QKeySequence(k) for k in keys])
        if context is not None:
            a.setShortcutContext(context)
        a.setCheckable(checkable)
        if tip:
            a.setStatusTip(tip)
            a.setToolTip(tip)
        a.triggered.connect(slot)
        menu.addAction(a)
        if context is None:
            w.addAction(a)
        group.append(a)
        acts.by_name[name] = a
        return a

    # File
    m = bar.addMenu("&File")
    g: list[QAction] = []
    make(m, g, "add", "&Add reference images…", c.add_files, (QKeySequence.StandardKey.Open,))
    make(
        m,
        g,
        "paste",
        "&Paste a reference",
        c.paste_reference,
        (QKeySequence.StandardKey.Paste,),
        tip="Add the image (or image files) on the clipboard to the tray",
    )
    make(m, g, "export", "&Export result with metadata…", c.export_current, shortcuts.window_keys("export"))
    make(
        m,
        g,
        "restore_image",
        "Restore settings from an &image…",
        c.restore_from_image,
        ("Ctrl+Shift+O",),
        tip="Read the settings an exported FlexStudio image (or an A1111 / ComfyUI PNG) carries",
    )
    m.addSeparator()
    make(
        m,
        g,
        "save_preset",
        "&Save preset…",
        c.save_preset,
        (QKeySequence.StandardKey.Save,),
        tip="Save the current settings as a preset",
    )
    make(m, g, "manage_presets", "&Manage presets…", c.manage_presets)
    m.addSeparator()
    make(m, g, "settings", "&Settings…", c.open_settings, ("Ctrl+,",))
    m.addSeparator()
    make(m, g, "quit", "&Quit", w.close, (QKeySequence.StandardKey.Quit,))
    acts.groups.append(("File", g))

    # Edit
    m = bar.addMenu("&Edit")
    g = []
    g.append(w.tray.remove_action)
    m.addAction(w.tray.remove_action)
    make(m, g, "clear_refs", "Clear all references", w.wb.clear_references)
    make(m, g, "use_result", "&Use the result as a reference", c.use_shown_result, ("Ctrl+R",))
    m.addSeparator()
    make(
        m,
        g,
        "restore",
        "&Restore all settings from the selected job",
        c.restore_selected,
        shortcuts.window_keys("restore"),
    )
    make(
        m,
        g,
        "favourite",
        "&Favourite the selected job",
        w.history.toggle_favourite,
        shortcuts.window_keys("favourite"),
    )
    make(
        m,
        g,
        "delete_job",
        "&Delete the selected job",
        w.history.delete_selected,
        shortcuts.window_keys("delete_job"),
    )
    m.addSeparator()
    undo = make(
        m,
        g,
        "undo",
        "&Undo",
        c.undo,
        shortcuts.window_keys("undo"),
        tip="Undo removing, clearing or reordering references, or deleting jobs",
    )
    redo = make(m, g, "redo", "&Redo", c.redo, shortcuts.window_keys("redo"))

    def undo_texts() -> None:  # "Undo remove image 2": the menu says what Ctrl+Z will do
        u, r = c.undo_list.next_undo(), c.undo_list.next_redo()
        undo.setText(f"&Undo {u[0].lower() + u[1:]}" if u else "&Undo")
        undo.setEnabled(bool(u))
        redo.setText(f"&Redo {r[0].lower() + r[1:]}" if r else "&Redo")
        redo.setEnabled(bool(r))

    c.undo_list.changed.connect(undo_texts)
    undo_texts()
    acts.groups.append(("Edit", g))

    # View
    m = bar.addMenu("&View")
    g = []
    compare_ctx = Qt.ShortcutContext.WidgetWithChildrenShortcut
    for i, (mode, label) in enumerate(
        (("wipe", "Wipe"), ("side", "Side by side"), ("flip", "Flip"), ("diff", "Difference")), start=1
    ):
        a = make(
            m,
            g,
            f"mode_{mode}",
            f"{label} mode",
            lambda _c=False, md=mode: w.compare.set_mode(md),
            (str(i),),
            context=compare_ctx,
        )
        w.compare.addAction(a)
    flip = make(m, g, "flip", "Flip before / after", w.compare.flip, ("Space",), context=compare_ctx)
    cycle = make(m, g, "cycle", "Next compare mode", w.compare.cycle_mode, ("M",), context=compare_ctx)
    swap = make(m, g, "swap", "Swap before and after", w.compare.swap, ("C",), context=compare_ctx)
    for a in (flip, cycle, swap):
        w.compare.addAction(a)
    w.history.view.addAction(flip)
    m.addSeparator()
    make(m, g, "fit", "Zoom to &fit", lambda: w.compare.canvas.set_zoom(None), ("Ctrl+0",))
    make(m, g, "actual", "&Actual pixels (100 %)", lambda: w.compare.canvas.set_zoom(1.0), ("Ctrl+1",))
    make(
        m,
        g,
        "zoom_in",
        "Zoom &in",
        lambda: w.compare.canvas.zoom_by(1.25),
        (QKeySequence.StandardKey.ZoomIn,),
    )
    make(
        m,
        g,
        "zoom_out",
        "Zoom &out",
        lambda: w.compare.canvas.zoom_by(0.8),
        (QKeySequence.StandardKey.ZoomOut,),
    )
    make(m, g, "compare_with", "&Compare with…", c.compare_with_shown)
    make(m, g, "lineage", "&Lineage of the selected job…", c.show_lineage, shortcuts.window_keys("lineage"))
    m.addSeparator()
    hist = make(m, g, "show_history", "Show &history", w.set_history_visible, ("Ctrl+H",), checkable=True)
    hist.setChecked(True)
    acts.groups.append(("View", g))

    # Run
    m = bar.addMenu("&Run")
    g = []
    make(
        m,
        g,
        "run",
        "&Run",
        c.run,
        ("Ctrl+Return", "Ctrl+Enter"),
        tip="Run the edit (the price is on the button)",
    )
    make(m, g, "rerun", "Re-run the selected job", c.rerun_selected)
    m.addSeparator()
    make(
        m,
        g,
        "compare_providers",
        "Compare &providers…",
        c.groups.compare_providers,
        ("Ctrl+Shift+P",),
        tip="Send the same edit to several providers at once (one seed for all)",
    )
    make(
        m,
        g,
        "sweep",
        "S&weep…",
        c.groups.open_sweep,
        ("Ctrl+Shift+G",),
        tip="Run the edit over a grid of steps, guidance and seed values",
    )
    make(
        m,
        g,
        "batch",
        "&Batch…",
        c.groups.open_batch,
        ("Ctrl+Shift+B",),
        tip="Apply the edit to a folder of images, priced first, resumable",
    )
    m.addSeparator()
    make(m, g, "cancel", "&Cancel the latest job", c.cancel_latest, ("Esc",))
    make(m, g, "cancel_all", "Cancel &all jobs", c.cancel_all)
    acts.groups.append(("Run", g))

    # Help
    m = bar.addMenu("&Help")
    g = []
    make(m, g, "shortcuts", "&Keyboard shortcuts", w.show_shortcuts, ("F1", "Ctrl+/"))
    make(m, g, "about", "&About FlexStudio", w.about)
    acts.groups.append(("Help", g))

    # Reference tray and history keys (active where their widget has focus).
    acts.groups.append(
        ("History", [w.history.restore_action, w.history.favourite_action, w.history.delete_action])
    )
    return acts
