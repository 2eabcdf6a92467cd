"""The Train page's data column: the dataset list from the registry, its options, and downloads with a progress bar.

A "Downloads" dataset (full MNIST, Fashion-MNIST, CIFAR-10) that is not in the shared cache is fetched when the
student asks for it (the Download button, or Start): in the script thread, with a progress bar giving bytes and
the time left, since the student waits for exactly that. Offline, the DownloadError's message says what to do
instead (the bundled "mnist", or a folder on the server) and a button switches to "mnist".
"""
from __future__ import annotations

import json
import time
from typing import Callable

import streamlit as st

from engine import SpecError, data
from engine.training import suggested_settings
from ui.core.text import message
from ui.train import upload
from ui.train import settings
from ui.train.settings import CHOSEN

BUNDLED = "mnist"  # real digits that need no download: what a failed download offers instead
PROGRESS_EVERY = 0.1  # seconds between progress-bar updates (a chunk arrives far more often)


def data_ui(p: dict, spec) -> tuple[str, dict, int, object | None]:
    """Dataset (``data.names()``, default ``data.fit(spec)``), its options, seed, and a text upload for characters.

    Returns:
        (dataset name, options, seed, the uploaded text's Dataset or None); ``p`` is the page's scratch.
    """
    names = data.names()
    st.markdown("**Data**")
    name = st.selectbox("Dataset", names, index=names.index(data.fit(spec)), key="tr-dataset",
                        format_func=lambda n: f"{n} ({data.category(n)})", help="what the network learns",
                        on_change=suggest_settings)
    st.caption(data.describe(name))
    options = {}
    for opt, arg in data.options(name).items():
        key = f"tr-ds-{name}-{opt}"
        if arg.kind == "path":
            options[opt] = st.text_input(f"{opt} (in the server's data folder)", key=key, help=arg.help or None)
        elif arg.kind == "int":
            options[opt] = int(st.number_input(opt, int(arg.min), int(arg.max), int(arg.default), key=key))
        else:
            options[opt] = float(st.number_input(opt, float(arg.min), float(arg.max), float(arg.default),
                                                 key=key, format="%.3g"))
    if data.category(name) == "Downloads":
        download_ui(name, options)
    seed = settings.number("seed", "Seed", help="same seed, same run (on CPU)")
    text = None
    if data.category(name) == "Characters":
        text = upload.text_ui(p, int(options.get("seq_len", 32)), seed)
    p["upload"] = text
    return name, options, seed, text


def dataset_state(widgets: dict) -> dict:
    """Only the dataset's widgets (its name and options) of a ``ui.train.settings.widget_state``."""
    return {k: v for k, v in widgets.items() if k == "tr-dataset" or k.startswith("tr-ds-")}


def fits(spec, name: str, load: Callable) -> bool:
    """Whether Start would accept this network on this dataset (``data.adapt_spec`` fits it), with the options the
    widgets hold; one still to be downloaded is judged by the network alone: it must read images."""
    options = {opt: st.session_state.get(f"tr-ds-{name}-{opt}", arg.default)
               for opt, arg in data.options(name).items()}
    try:
        if must_download(name, options):
            return data.category(data.fit(spec)) == "Images"
        data.adapt_spec(spec, load(name, 0, json.dumps(options, sort_keys=True)))
    except (SpecError, ValueError, OSError):  # InputError and DownloadError are ValueErrors
        return False
    return True


def follow_network(spec, load: Callable) -> None:
    """The network changed (a preset, an import, a link on Build): keep the dataset the widget holds if it was chosen
    (by the student, or in restored or pushed settings) and it still fits, else the one ``data.fit`` picks. Call
    before ``data_ui``; ``load(name, seed, options_json)`` gives a Dataset."""
    name = st.session_state.get("tr-dataset")
    if name is None or name == data.fit(spec):
        return  # nothing held, or the fitting one already
    if st.session_state.get(CHOSEN) == name and name in data.names() and fits(spec, name, load):
        return
    st.session_state["tr-dataset"] = data.fit(spec)
    hint = suggested_settings(data.fit(spec))
    st.session_state[settings.key("epochs")] = hint["epochs"]
    st.session_state[settings.lr_key("adam")] = hint["lr"]


def suggest_settings() -> None:
    """A new dataset brings its own learning rate (for Adam) and epochs; the student can still change them."""
    st.session_state[CHOSEN] = st.session_state["tr-dataset"]
    hint = suggested_settings(st.session_state["tr-dataset"])
    st.session_state[settings.key("epochs")] = hint["epochs"]
    st.session_state[settings.lr_key("adam")] = hint["lr"]


def must_download(name: str, options: dict) -> bool:
    """Whether a run on this data has to download it first (not cached, and no folder of files given)."""
    return data.category(name) == "Downloads" and not options.get("folder") and data.needs_download(name)


def download_ui(name: str, options: dict) -> None:
    """Where a "Downloads" dataset comes from, and a Download button while it is not cached yet."""
    if options.get("folder"):
        st.caption("Read from the folder above (nothing is downloaded).")
        return
    try:
        missing = data.needs_download(name)
    except data.DownloadError as err:  # e.g. torchvision missing: nothing can be downloaded here
        st.error(message(err))
        return
    if not missing:
        st.caption("In the shared download cache: ready.")
    else:
        st.caption(f"Not downloaded yet: Download (or Start) fetches it once into the cache every student shares "
                   f"({data.cache_root()}). Offline? Copy the files into a folder there and give its name, or use "
                   f"{BUNDLED}.")
        if st.button("Download", key="tr-download"):
            fetch_ui(name)


def fetch_ui(name: str) -> bool:
    """Download a dataset now with a progress bar (bytes, time left); a DownloadError is shown, never raised.

    Returns:
        True when the dataset is in the cache.
    """
    bar = st.progress(0.0, text=f"Downloading {name}…")
    started = last = time.monotonic()
    received = 0

    def progress(done: int, total: int) -> None:
        nonlocal last, received
        received = done
        now = time.monotonic()
        if now - last >= PROGRESS_EVERY or (total and done >= total):
            last = now
            bar.progress(min(done / total, 1.0) if total else 0.0,
                         text=f"Downloading {name}: {data.progress_text(done, total, now - started)}")

    try:
        data.download_dataset(name, progress=progress)
    except data.DownloadError as err:
        bar.empty()
        st.error(f"Cannot download {name}: {message(err)}")
        st.button(f"Use {BUNDLED} instead (bundled, no download)", key="tr-use-bundled", on_click=use_bundled)
        return False
    got = f"{received / 1e6:.1f} MB in {time.monotonic() - started:.0f} s; " if received else ""
    bar.progress(1.0, text=f"Downloaded {name}: {got}it is in the shared cache now.")
    return True


def use_bundled() -> None:
    """Switch the dataset to the bundled MNIST subset, with its own suggested settings."""
    st.session_state["tr-dataset"] = BUNDLED
    suggest_settings()
