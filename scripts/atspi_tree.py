"""Read the real FlexStudio window as a screen reader does, over AT-SPI (the bus Orca uses on Linux).

Run it through ``scripts/atspi_tree.sh`` (a virtual screen, a private D-Bus session, the accessibility
bus). With Debian's python3-pyatspi (system ``/usr/bin/python3``, not the project's .venv), it starts the
window with ``QT_LINUX_ACCESSIBILITY_ALWAYS_ON=1`` on the offline sandbox, then:

1. prints the tree of what is showing — role, name, value or range, the label tied to it, description;
2. says where the focus is at the start, then presses Tab through the window (keys sent by the
   accessibility registry, as a person's would be) and prints what each stop announces;
3. types a prompt through the accessible text interface, presses Run through its accessible action,
   and prints every ``object:announcement`` the window sends until the job has ended.

``--cloud`` puts a made-up fal.ai key in the window's environment (nothing is ever sent) and, by keyboard
alone, picks fal.ai, moves Steps and Guidance, and prints each value as it is announced and the price Run
reads.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pyatspi  # Debian: python3-pyatspi
from gi.repository import GLib

ROOT = Path(__file__).resolve().parents[1]
EVENTS = (
    "object:announcement",
    "object:state-changed:focused",
    "object:property-change:accessible-value",
    "object:property-change:accessible-name",
)
TAB_SYM, UP_SYM, DOWN_SYM, PAGE_DOWN_SYM = 0xFF09, 0xFF52, 0xFF54, 0xFF56  # X keysyms


def value_of(acc: object) -> str:
    try:
        v = acc.queryValue()
        return f"{v.currentValue:g} in {v.minimumValue:g}..{v.maximumValue:g}"
    except NotImplementedError:
        pass
    try:
        t = acc.queryText()
        if acc.getRole() in (pyatspi.ROLE_TEXT, pyatspi.ROLE_ENTRY, pyatspi.ROLE_SPIN_BUTTON):
            return repr(t.getText(0, -1)[:60])
    except NotImplementedError:
        pass
    return ""


def labelled_by(acc: object) -> str:
    for rel in acc.getRelationSet():
        if rel.getRelationType() == pyatspi.RELATION_LABELLED_BY:
            return " / ".join(rel.getTarget(i).name for i in range(rel.getNTargets()))
    return ""


def spoken(acc: object) -> str:
    """Roughly what Orca says on focus: label, name, role, value, state."""
    role = acc.getRoleName()
    label = labelled_by(acc)
    name = acc.name or ""
    parts = [p for p in (label, name if name != label else "", role) if p]
    val = value_of(acc)
    if val:
        parts.append(val)
    states = acc.getState()
    if states.contains(pyatspi.STATE_CHECKABLE) or role in ("radio button", "check box", "toggle button"):
        parts.append("checked" if states.contains(pyatspi.STATE_CHECKED) else "not checked")
    if not states.contains(pyatspi.STATE_ENABLED):
        parts.append("greyed")
    if acc.description:
        parts.append(f"— {acc.description}")
    return ", ".join(parts)


def dump(acc: object, depth: int = 0, out: list[str] | None = None) -> list[str]:
    out = [] if out is None else out
    if depth > 30:
        return out
    states = acc.getState()
    if depth and not states.contains(pyatspi.STATE_SHOWING):
        return out
    role = acc.getRoleName()
    line = "  " * depth + f"[{role}] {acc.name!r}"
    extra = [
        x
        for x in (
            value_of(acc),
            f"label: {labelled_by(acc)}" if labelled_by(acc) else "",
            f"desc: {acc.description}" if acc.description else "",
        )
        if x
    ]
    if states.contains(pyatspi.STATE_FOCUSABLE):
        extra.append("focusable")
    out.append(line + ("  " + " | ".join(extra) if extra else ""))
    if role in ("combo box",):  # its list of items is long and not showing: skip it
        return out
    for i in range(acc.childCount):
        child = acc.getChildAtIndex(i)
        if child is not None:
            dump(child, depth + 1, out)
    return out


def find_app(name: str, seconds: float) -> object:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        desktop = pyatspi.Registry.getDesktop(0)
        for i in range(desktop.childCount):
            app = desktop.getChildAtIndex(i)
            if app is not None and app.name and name.lower() in app.name.lower() and app.childCount:
                return app
        time.sleep(0.3)
    raise SystemExit(f"atspi_tree: no application named {name!r} appeared on the accessibility bus")


def find(acc: object, pred: object, depth: int = 0) -> object | None:
    if depth > 30:
        return None
    if pred(acc):  # type: ignore[operator]
        return acc
    for i in range(acc.childCount):
        child = acc.getChildAtIndex(i)
        if child is not None:
            hit = find(child, pred, depth + 1)
            if hit is not None:
                return hit
    return None


def focused(acc: object, depth: int = 0) -> object | None:
    """The object with the keyboard focus (a combo box's closed list is not searched)."""
    if depth > 30:
        return None
    role = acc.getRoleName()
    if acc.getState().contains(pyatspi.STATE_FOCUSED) and role not in (
        "frame",
        "application",
        "filler",
        "panel",
    ):
        return acc
    if role == "combo box":
        return None
    for i in range(acc.childCount):
        child = acc.getChildAtIndex(i)
        if child is not None:
            hit = focused(child, depth + 1)
            if hit is not None:
                return hit
    return None


def x_focus() -> bool:
    """Give the window the X keyboard focus, as a window manager does when it is clicked (Xvfb has none,
    and without one Qt never makes the window active). Plain Xlib through ctypes: the largest top-level
    window (Qt's helper windows are a few pixels) gets XSetInputFocus."""
    import ctypes
    import ctypes.util

    u, p = ctypes.c_ulong, ctypes.POINTER
    x11 = ctypes.cdll.LoadLibrary(ctypes.util.find_library("X11") or "libX11.so.6")
    x11.XOpenDisplay.restype = ctypes.c_void_p
    x11.XDefaultRootWindow.restype = u
    x11.XDefaultRootWindow.argtypes = [ctypes.c_void_p]
    x11.XQueryTree.argtypes = [ctypes.c_void_p, u, p(u), p(u), p(p(u)), p(ctypes.c_uint)]
    x11.XGetGeometry.argtypes = [
        ctypes.c_void_p,
        u,
        p(u),
        p(ctypes.c_int),
        p(ctypes.c_int),
        p(ctypes.c_uint),
        p(ctypes.c_uint),
        p(ctypes.c_uint),
        p(ctypes.c_uint),
    ]
    x11.XSetInputFocus.argtypes = [ctypes.c_void_p, u, ctypes.c_int, u]
    x11.XFlush.argtypes = [ctypes.c_void_p]
    dpy = x11.XOpenDisplay(None)
    if not dpy:
        return False
    root = x11.XDefaultRootWindow(dpy)
    root_ret, parent = u(), u()
    children, n = p(u)(), ctypes.c_uint()
    x11.XQueryTree(
        dpy, root, ctypes.byref(root_ret), ctypes.byref(parent), ctypes.byref(children), ctypes.byref(n)
    )
    best, area = 0, 0
    for i in range(n.value):
        r, x, y = u(), ctypes.c_int(), ctypes.c_int()
        w, h, b, d = ctypes.c_uint(), ctypes.c_uint(), ctypes.c_uint(), ctypes.c_uint()
        x11.XGetGeometry(
            dpy,
            children[i],
            ctypes.byref(r),
            ctypes.byref(x),
            ctypes.byref(y),
            ctypes.byref(w),
            ctypes.byref(h),
            ctypes.byref(b),
            ctypes.byref(d),
        )
        if w.value * h.value > area:
            best, area = children[i], w.value * h.value
    if best:
        x11.XSetInputFocus(dpy, best, 2, 0)  # RevertToParent, CurrentTime
    x11.XFlush(dpy)
    return bool(best)


def pump(seconds: float) -> None:
    ctx = GLib.MainContext.default()
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        while ctx.pending():
            ctx.iteration(False)
        time.sleep(0.02)


def key(sym: int, times: int = 1) -> None:
    for _ in range(times):
        pyatspi.Registry.generateKeyboardEvent(sym, None, pyatspi.KEY_SYM)
        pump(0.3)


def cloud_by_keyboard(app: object, heard: list[str]) -> None:
    """From the prompt: Tab to Provider, Down to fal.ai, Tab to Steps (Page Down), Tab to Guidance (Up ×2)."""
    print("\n=== fal.ai by keyboard: provider, steps, guidance, and the price on Run ===")
    prompt = find(app, lambda a: a.getRoleName() == "text" and a.name == "Prompt")
    if prompt is not None:
        prompt.queryComponent().grabFocus()
        pump(0.3)
    key(TAB_SYM)
    for _ in range(15):
        now = focused(app)
        if now is not None and (now.name or "").startswith("fal.ai"):
            break
        key(DOWN_SYM)
    key(TAB_SYM)
    key(PAGE_DOWN_SYM)
    key(TAB_SYM)
    key(UP_SYM, 2)
    for line in heard:
        print(line)
    run = find(app, lambda a: a.getRoleName() == "push button" and (a.name or "").startswith("Run"))
    price = find(app, lambda a: a.getRoleName() == "label" and (a.name or "").startswith("$"))
    print(f"Run reads: {run.name if run else '?'}; the price label reads: {price.name if price else '?'}")
    steps = find(app, lambda a: a.getRoleName() == "spin button" and a.name == "Steps")
    for name in ("Steps", "Guidance"):
        acc = find(app, lambda a, n=name: a.getRoleName() == "spin button" and a.name == n)
        if acc is not None:
            print(f"{name}: {spoken(acc)}")
    badge = find(app, lambda a: a.getRoleName() == "image" and (a.name or "").startswith("Steps"))
    if badge is not None and steps is not None:
        print(f"badge: {badge.name} — {badge.description}")


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tabs", type=int, default=45, help="how many times to press Tab")
    ap.add_argument("--prompt", default="Make the logo blue")
    ap.add_argument(
        "--cloud",
        action="store_true",
        help="a made-up fal.ai key in the environment (nothing is sent): pick fal.ai by keyboard, "
        "move Steps and Guidance by keyboard and hear the price on Run follow",
    )
    args = ap.parse_args()

    home = tempfile.mkdtemp(prefix="flexstudio-atspi-")
    env = {
        **os.environ,
        "QT_LINUX_ACCESSIBILITY_ALWAYS_ON": "1",
        "QT_QPA_PLATFORM": "xcb",
        "QT_API": "pyside6",
        "FLEXSTUDIO_HOME": home,
        "FLEXSTUDIO_SANDBOX_LATENCY": "1.5",
        "PYTHON_KEYRING_BACKEND": "keyring.backends.null.Keyring",
    }  # no keys: the first-run sandbox
    if args.cloud:
        env["FAL_KEY"] = "fal-test-key-not-real"
    app_proc = subprocess.Popen(
        [str(ROOT / ".venv/bin/flexstudio")],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    heard: list[str] = []

    def on_event(ev: object) -> None:
        kind = ev.type  # type: ignore[attr-defined]
        if kind.startswith("object:announcement"):
            heard.append(f"ANNOUNCED: {ev.any_data}")  # type: ignore[attr-defined]
        elif kind.startswith("object:state-changed:focused") and ev.detail1:  # type: ignore[attr-defined]
            heard.append(f"FOCUS: {spoken(ev.source)}")  # type: ignore[attr-defined]
        elif kind.startswith(
            ("object:property-change:accessible-value", "object:property-change:accessible-name")
        ):
            src = ev.source  # type: ignore[attr-defined]
            if src is not None and src.getState().contains(pyatspi.STATE_FOCUSED):  # what the reader says
                heard.append(f"  now: {spoken(src)}")

    pyatspi.Registry.registerEventListener(on_event, *EVENTS)
    try:
        app = find_app("FlexStudio", 60)
        pump(3.0)  # the deferred start-up: keys read, the first-run banner shown
        print(f"window given the X focus: {x_focus()}")
        pump(1.0)
        print("=== The tree (showing objects) ===")
        for line in dump(app):
            print(line)
        start = focused(app)
        print("\n=== Focus at start ===")
        print(spoken(start) if start is not None else "(nothing focused)")
        print("\n=== Heard while it started ===")
        for line in heard:
            print(line)
        heard.clear()
        print(f"\n=== Tab, {args.tabs} times (each stop as it is announced) ===")
        for _ in range(args.tabs):
            pyatspi.Registry.generateKeyboardEvent(TAB_SYM, None, pyatspi.KEY_SYM)
            pump(0.3)
            now = focused(app)
            if not any(h.startswith("FOCUS") for h in heard) and now is not None:
                heard.append(f"FOCUS (read from the tree): {spoken(now)}")
            for line in heard:
                print(line)
            heard.clear()
        if args.cloud:
            cloud_by_keyboard(app, heard)
            return 0
        print("\n=== Type a prompt, press Run (accessible action) ===")
        prompt = find(app, lambda a: a.getRoleName() == "text" and a.name == "Prompt")
        if prompt is not None:
            prompt.queryEditableText().setTextContents(args.prompt)
        run = find(app, lambda a: a.getRoleName() == "push button" and (a.name or "").startswith("Run"))
        if run is None:
            print("no Run button found")
            return 1
        print(f"Run reads: {spoken(run)}")
        t0 = time.monotonic()
        run.queryAction().doAction(0)
        print(f"the press returned after {time.monotonic() - t0:.2f} s")
        end = time.monotonic() + 30
        while time.monotonic() < end and not any("Job succeeded" in h or "Job failed" in h for h in heard):
            pump(0.2)
        for line in heard:
            print(line)
        add = find(app, lambda a: a.getRoleName() == "push button" and a.name == "Add reference images")
        if add is not None:
            t0 = time.monotonic()
            add.queryAction().doAction(0)
            print(f"\n'Add reference images' press returned after {time.monotonic() - t0:.2f} s")
            pump(1.0)
            dlg = find(pyatspi.Registry.getDesktop(0), lambda a: a.getRoleName() == "dialog")
            print(f"file dialog open: {dlg is not None and 'Add reference images' in (dlg.name or '')}")
        return 0
    finally:
        pyatspi.Registry.deregisterEventListener(on_event, *EVENTS)
        app_proc.terminate()
        try:
            _out, err = app_proc.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            app_proc.kill()
            _out, err = app_proc.communicate()
        if "Traceback" in (err or ""):
            print("\n=== the window's stderr ===\n" + err[-3000:], file=sys.stderr)


if __name__ == "__main__":
    raise SystemExit(main())
