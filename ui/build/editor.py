"""Widget groups of the Build page: start, layer editor, export/import, the network link (the summary table and
graph: ``summary.summary_ui``)."""
from __future__ import annotations

import re

import streamlit as st

import engine
from engine.network import INFERRED, TYPES, check_values, edit, fmt_shape, share, to_pytorch_code
from ui.core import text, workspace
from ui.core.session import SessionState

EMPTY_INPUTS = {"image C×H×W": "1, 28, 28", "vector F": "2", "sequence T×F": "20, 1", "tokens T (+ vocabulary)": "32"}
EMPTY_DIMS = {"image C×H×W": ("C, H, W", 3), "vector F": ("F", 1), "sequence T×F": ("T, F", 2),
              "tokens T (+ vocabulary)": ("T", 1)}


def _page(s: SessionState) -> dict:
    return s.extras.setdefault("build", {"selected": "0", "notice": None, "token": None})


def _forget_arguments() -> None:
    """Forget the argument widgets so they show the current spec's values."""
    for key in [k for k in st.session_state if isinstance(k, str) and k.startswith("arg-")]:
        del st.session_state[key]


def _replace(s: SessionState, spec: engine.ModelSpec, selected: str | None = None) -> None:
    """Make spec current and forget argument widgets so they show the new spec's values."""
    s.set_spec(spec)
    _forget_arguments()
    if selected is not None:
        _page(s)["selected"] = selected
        st.session_state.pop("layer-select", None)  # else the widget's own state wins over the new index


def url_sync_ui(s: SessionState) -> None:
    """Open the network named in ?net= once; a broken link leaves the session's network as it is, with a notice.

    On a first visit that network is the default one; later it is the student's own work, which a hand-edited
    or truncated link must not wipe out. ``url_write`` then takes ?net= out of an address that names a workspace.
    """
    page = _page(s)
    if page.get("outside", 0) != s.outside:  # a restore or a teacher's push since this page drew: its network
        page["outside"] = s.outside
        _forget_arguments()
    token = st.query_params.get("net")
    if token and token != page["token"]:
        try:
            spec = share.decode(token)
            # A reload's address names the network the workspace already holds: opening it again would reset
            # (and save) the trained model.
            if spec.to_dict() != s.spec.to_dict():
                _replace(s, spec, "0")
                workspace.sync(s)  # saved by this run: another tab opening the workspace now finds it
        except engine.SpecError as err:
            page["notice"] = f"The shared link could not be opened ({err}). Your current network is unchanged."
        page["token"] = token
    if page["notice"]:
        st.warning(text.message(page["notice"]))
        page["notice"] = None


def url_write(s: SessionState) -> None:
    """Keep the network in the address only while no workspace is: ?ws= lets whoever has it change the work, so
    an address holding it must not pass for a network link (``network_link_ui`` offers that). Without a
    workspace (saving off) ?net= is what a reload opens again."""
    token = share.encode(s.spec)
    if s.token is None:
        if st.query_params.get("net") != token:
            st.query_params["net"] = token
    elif "net" in st.query_params:
        del st.query_params["net"]
    _page(s)["token"] = token


def network_link(spec: engine.ModelSpec) -> str:
    """The address that opens this network on the Build page: the spec alone, no workspace."""
    try:
        page = str(st.context.url).split("?")[0]
    except (AttributeError, RuntimeError):
        page = ""
    page = page if page.rstrip("/").endswith("/Build") else (page.rsplit("/", 1)[0] + "/Build" if page else "/Build")
    return f"{page}?net={share.encode(spec)}"


def network_link_ui(s: SessionState) -> None:
    """The network link to share: it opens a copy of this network, never this workspace."""
    st.code(network_link(s.spec), language=None)
    st.caption("**Network link**: opens this network for whoever you send it to, as their own copy. It holds the "
               "network only: your runs and weights stay in your workspace, whose link (this page's address) lets "
               "whoever has it change your work.")


def start_ui(s: SessionState) -> None:
    """Start from a preset, or from an empty network with a chosen input."""
    with st.expander("Start from a preset or an empty network", expanded=False):
        a, b = st.columns(2)
        with a:
            name = st.selectbox("Preset", engine.network.presets.names(), key="preset",
                                format_func=lambda n: f"{n} — {engine.network.presets.describe(n)}")
            if st.button("Load preset", key="load-preset"):
                _replace(s, engine.network.presets.get(name), "0")
                st.rerun()
        with b:
            kind = st.selectbox("Input", list(EMPTY_INPUTS), key="empty-kind", on_change=_kind_changed)
            names, count = EMPTY_DIMS[kind]
            typed = st.text_input(f"Input shape ({names})", EMPTY_INPUTS[kind], key="empty-shape",
                                 help="numbers separated by commas, without the batch dimension")
            vocab = st.number_input("Vocabulary size", 2, 100_000, 32, key="empty-vocab") if kind.startswith(
                "tokens") else None
            if st.button("Start empty", key="start-empty"):
                try:
                    shape = [int(p) for p in typed.replace("×", ",").split(",") if p.strip()]
                    if len(shape) != count:
                        raise engine.SpecError(f"{kind.split(' (')[0]} needs {count} number{'s' * (count > 1)} "
                                               f"({names}), e.g. {EMPTY_INPUTS[kind]}; you gave {len(shape)}")
                    data = {"name": "my-network", "input": shape, "layers": []}
                    if vocab:
                        data["vocab_size"] = int(vocab)
                    _replace(s, engine.ModelSpec.from_dict(data), "0")
                    st.rerun()
                except ValueError as err:  # SpecError is a ValueError
                    hint = f"use whole numbers like {EMPTY_INPUTS[kind]}"
                    st.error(f"Input shape: {text.message(err) if isinstance(err, engine.SpecError) else hint}")


def _kind_changed() -> None:
    st.session_state["empty-shape"] = EMPTY_INPUTS[st.session_state["empty-kind"]]


def _label(path: str, layer: dict) -> str:
    # Type only: a keyed selectbox keeps its first labels, so live shapes go in the caption below it.
    depth = path.count(".")
    return f"{'  ' * depth}{'↳ ' if depth else ''}{path} · {layer['type']}"


def layers_ui(s: SessionState, rows: dict) -> None:
    """The layer list, the selected layer's arguments, and add/move/duplicate/delete."""
    page = _page(s)
    entries = edit.paths(s.spec)
    if entries:
        paths = [p for p, _ in entries]
        if page["selected"] not in paths:
            page["selected"] = paths[0]
        layer_of = dict(entries)
        picked = st.selectbox("Layer", paths, index=paths.index(page["selected"]), key="layer-select",
                              format_func=lambda p: _label(p, layer_of[p]))
        page["selected"] = picked
        shape = rows.get(picked)
        with st.container(key="layer-output"):
            st.markdown(f"Output of layer {picked}: **{fmt_shape(shape)}**" if shape else
                        f"Layer {picked}: invalid, see the message in the table")
        if error := st.session_state.pop("build-edit-error", None):
            st.error(text.message(error))
        cols = st.columns(4)
        for col, (label, key, action) in zip(cols, [("Up", "move-up", -1), ("Down", "move-down", 1),
                                                     ("Copy", "duplicate", "dup"), ("Delete", "delete", "del")]):
            col.button(label, key=key, on_click=_structural, args=(s, picked, action), width="stretch")
        _args_ui(s, picked, layer_of[picked])
    else:
        st.info("The network has no layers yet: add one below.")
    _add_ui(s)


def _structural(s: SessionState, path: str, action) -> None:
    try:  # the layer and nesting caps hold for edits too
        if action == "del":
            spec, sel = edit.remove_layer(s.spec, path), path
        elif action == "dup":
            spec, sel = edit.duplicate_layer(s.spec, path), edit.moved_path(path, 1)
        else:
            spec, sel = edit.move_layer(s.spec, path, action), edit.moved_path(path, action)
    except engine.SpecError as err:
        st.session_state["build-edit-error"] = f"Could not do that: {err}. Your network is unchanged."
        return
    _replace(s, spec, sel)


def _set(s: SessionState, path: str, name: str, convert, key: str | None = None) -> None:
    key = key or f"arg-{path}-{name}"
    try:
        s.set_spec(edit.set_arg(s.spec, path, name, convert(st.session_state[key])))
    except ValueError as err:  # SpecError is a ValueError; the box goes back to the spec's value
        st.session_state["build-arg-error"] = str(err) if isinstance(err, engine.SpecError) else \
            f"{name}: {_HINTS.get(convert, 'enter a number, or two numbers as height, width')}"
        del st.session_state[key]


def _set_value(s: SessionState, path: str, name: str, value) -> None:
    """Set (or, with None, remove) one argument from a button; a refusal is shown above the arguments."""
    try:
        s.set_spec(edit.set_arg(s.spec, path, name, value))
        st.session_state.pop(f"arg-{path}-{name}", None)
    except engine.SpecError as err:
        st.session_state["build-arg-error"] = str(err)


def _bad_value(ltype: str, name: str, value) -> str | None:
    try:
        check_values({"type": ltype, name: value}, "")
    except engine.SpecError as err:
        return err.message.lstrip(": ")
    return None


def _pair_or_int(text: str):
    parts = [int(p) for p in str(text).replace("×", ",").split(",") if p.strip()]
    if len(parts) == 1:
        return parts[0]
    if len(parts) == 2:
        return parts
    raise ValueError(text)


def _sizes(text: str) -> list[int]:
    """A shape typed as "1, 28, 28" (or 1×28×28); the spec's own check refuses a wrong count or size."""
    return [int(p) for p in str(text).replace("×", ",").split(",") if p.strip()]


_HINTS = {_sizes: "enter 1 to 3 whole numbers separated by commas, such as 1, 28, 28"}


def _args_ui(s: SessionState, path: str, layer: dict) -> None:
    """One widget per argument, of the kind the registry declares; values come from the spec.

    A value no widget can show (from a hand-made spec) gets a message and a reset button instead, and an
    argument the layer type does not know gets a remove button: neither can crash the page or trap the user.
    """
    if layer.get("type") not in TYPES:  # only a hand-made spec gets here: the table names the problem
        st.warning(f"Layer {path} has no known type: delete it, or load a preset.")
        return
    ltype = TYPES[layer["type"]]
    st.caption(ltype.doc)
    if error := st.session_state.pop("build-arg-error", None):
        st.error(text.message(error))
    for name in [k for k in layer if k != "type" and k not in ltype.args]:
        a, b = st.columns([3, 1])
        a.warning(f"{text.code(name, 40)} is not an argument of {ltype.name}"
                  + (" (it is inferred from the input)" if name in INFERRED else ""))
        b.button("Remove", key=f"arg-{path}-unknown-{name}", on_click=_set_value, args=(s, path, name, None))
    sizes = [n for n, a in ltype.args.items() if a.kind == "size"]
    pairs = bool(sizes) and st.checkbox("non-square sizes (h, w)", any(isinstance(layer.get(n), (list, tuple))
                                        for n in sizes), key=f"arg-{path}-pairs",
                                        help="enter kernel, stride and other sizes as 'height, width'")
    cols = st.columns(3)
    for i, (name, arg) in enumerate(ltype.args.items()):
        value = layer.get(name, arg.default)
        key = f"arg-{path}-{name}"
        kw = dict(key=key, on_change=_set, help=arg.help or None)
        with cols[i % 3]:
            if name in layer and (problem := _bad_value(ltype.name, name, value)):
                st.warning(problem)
                st.button(f"Reset {name}", key=f"{key}-reset", on_click=_set_value,
                          args=(s, path, name, arg.example if arg.required else None))
            elif arg.kind == "layers":
                st.caption(f"{len(value or [])} nested layers: pick them in the list above")
            elif arg.kind == "bool":
                st.checkbox(name, bool(value), args=(s, path, name, bool), **kw)
            elif arg.kind == "choice":
                st.selectbox(name, arg.choices, index=list(arg.choices).index(value), args=(s, path, name, str), **kw)
            elif arg.kind == "float":
                st.number_input(name, float(arg.min), float(arg.max), float(value), step=0.01, format="%.4g",
                                args=(s, path, name, float), **kw)
            elif arg.kind == "padding":
                _padding_ui(s, path, value, arg.help)
            elif arg.kind == "shape":  # Unflatten's size: C, H, W (or T, F, or one size)
                st.text_input(f"{name} (1 to 3 sizes)", ", ".join(map(str, value)) if isinstance(value, (list, tuple))
                              else str(value), key=f"{key}-shape", on_change=_set,
                              args=(s, path, name, _sizes, f"{key}-shape"), help=arg.help or None)
            elif isinstance(value, (list, tuple)) or (pairs and arg.kind == "size"):
                # Its own key: a number input's int left under the same key would not fit a text box.
                st.text_input(f"{name} (h, w)" if pairs else name, ", ".join(map(str, value))
                              if isinstance(value, (list, tuple)) else str(value), key=f"{key}-hw", on_change=_set,
                              args=(s, path, name, _pair_or_int, f"{key}-hw"), help=arg.help or None)
            else:
                lo = 0 if arg.kind == "size_or_none" else int(arg.min)
                label = f"{name} (0 = kernel size)" if arg.kind == "size_or_none" else name
                convert = (lambda v: None if int(v) == 0 else int(v)) if arg.kind == "size_or_none" else int
                st.number_input(label, lo, int(arg.max), 0 if value is None else int(value), step=1,
                                args=(s, path, name, convert), **kw)


PADDING_MODES = ["number", "valid", "same", "full"]


def _padding_ui(s: SessionState, path: str, value, help_text: str) -> None:
    """Padding as valid (none) / same / full, or a number (or 'h, w' pair)."""
    mode = value if value in PADDING_MODES else "number"
    st.selectbox("padding", PADDING_MODES, index=PADDING_MODES.index(mode), key=f"arg-{path}-padding-mode",
                 on_change=_set_padding_mode, args=(s, path), help=help_text)
    if mode == "number":
        shown = ", ".join(map(str, value)) if isinstance(value, (list, tuple)) else str(value)
        st.text_input("padding (number, or h, w)", shown, key=f"arg-{path}-padding", on_change=_set,
                      args=(s, path, "padding", _pair_or_int))


def _set_padding_mode(s: SessionState, path: str) -> None:
    mode = st.session_state[f"arg-{path}-padding-mode"]
    st.session_state.pop(f"arg-{path}-padding", None)
    s.set_spec(edit.set_arg(s.spec, path, "padding", 0 if mode == "number" else mode))


def _add_ui(s: SessionState) -> None:
    page = _page(s)
    selected = page["selected"]
    types = list(TYPES)
    a, b, c = st.columns([2, 2, 1])
    ltype = a.selectbox("Add layer", types, index=types.index("Conv2d"), key="add-type",
                        format_func=lambda t: f"{t} ({TYPES[t].category})")
    options = ["after the selected layer", "at the end"]
    if s.spec.layers and edit.get_layer(s.spec, selected).get("type") == "Residual":
        options.append("inside the selected block")
    where = b.selectbox("Where", options, key="add-where")
    if c.button("Add", key="add-layer", width="stretch", type="primary"):
        new = TYPES[ltype].new()
        try:  # past the layer or nesting cap the engine refuses: say so, keep the network
            if where == "at the end" or not s.spec.layers:
                spec = edit.append_layer(s.spec, new)
                sel = edit.paths(spec)[-1][0] if not s.spec.layers else str(len(s.spec.layers))
            elif where == "inside the selected block":
                spec = edit.append_layer(s.spec, new, inside=selected)
                sel = f"{selected}.{len(edit.get_layer(s.spec, selected).get('layers', []))}"
            else:
                sel = edit.moved_path(selected, 1)
                spec = edit.insert_layer(s.spec, sel, new)
        except engine.SpecError as err:
            st.error(text.message(f"Could not add the layer: {err}. Your network is unchanged."))
            return
        _replace(s, spec, sel)
        st.rerun()


def file_stem(name: str) -> str:
    """A download file name (without extension) from a network name: letters, digits, '_' and '-' only."""
    return re.sub(r"[^A-Za-z0-9_-]+", "_", name).strip("_-")[:60] or "network"


def export_ui(s: SessionState, valid: bool) -> None:
    """Download the spec as JSON or as a PyTorch file; upload a JSON spec."""
    a, b, c = st.columns(3)
    stem = file_stem(s.spec.name)
    a.download_button("Download spec (JSON)", s.spec.to_json(), f"{stem}.json", "application/json",
                      key="download-json", width="stretch")
    if valid:
        b.download_button("Download PyTorch code (.py)", to_pytorch_code(s.spec), f"{stem.replace('-', '_')}.py",
                          "text/x-python", key="download-py", width="stretch")
    else:
        b.button("Download PyTorch code (.py)", disabled=True, key="download-py-disabled", help="fix the error first",
                 width="stretch")
    upload = c.file_uploader("Import a JSON spec", type=["json"], key="import-json")
    if upload is not None and _page(s).get("imported") != upload.file_id:
        _page(s)["imported"] = upload.file_id
        try:
            if upload.size > engine.limits.MAX_SPEC_BYTES:
                raise engine.SpecError(f"the file is {upload.size:,} bytes; a spec may be at most "
                                       f"{engine.limits.MAX_SPEC_BYTES:,}")
            spec = engine.ModelSpec.from_json(upload.getvalue())
        except engine.SpecError as err:
            st.error(text.message(f"Could not import {upload.name[:60]}: {err}. Your current network is unchanged."))
            return
        try:  # a file that is sound but does not fit layer by layer still opens, with the layer named
            engine.summarize(spec)
        except engine.SpecError as err:
            _page(s)["notice"] = (f"Imported {upload.name[:60]}, but it has an error: {err}. The table shows where; "
                                  "fix that layer below.")
        _replace(s, spec, "0")
        st.rerun()
