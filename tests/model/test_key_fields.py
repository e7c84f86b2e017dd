"""key_fields(): every field decided, stable under formatting, sensitive to build inputs."""

from __future__ import annotations

import json
import random
import shutil
import tempfile
import typing
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hermetic.canonical import canonical, digest
from hermetic.model import load_workspace
from hermetic.model import component as component_module
from hermetic.model import overlays as overlay_module
from hermetic.model.component import (
    OVERLAY_KEY_EXCLUDED,
    OVERLAY_KEY_INCLUDED,
    OVERLAY_KEY_TRANSFORMED,
    ComponentConfig,
    StrictModel,
    component_models,
    key_policy_gaps,
)
from tests.model.conftest import SHA256, SHA512, write_tree
from tests.model.test_loader import AZURELINUX

# --------------------------------------------------------------------------- policy


def _models_reachable_from(model: type) -> set[type]:
    found: set[type] = set()

    def visit(annotation: Any) -> None:
        if isinstance(annotation, type) and issubclass(annotation, StrictModel):
            if annotation not in found:
                found.add(annotation)
                for field in annotation.model_fields.values():
                    visit(field.annotation)
            return
        for argument in typing.get_args(annotation):
            visit(argument)

    visit(model)
    return found


def test_every_field_of_every_component_model_has_a_key_decision():
    reachable = _models_reachable_from(ComponentConfig)
    assert reachable <= set(component_models()), "add new models to component_models()"
    for model in component_models():
        assert key_policy_gaps(model) == set(), f"{model.__name__}: decide each field's key policy"


def test_every_overlay_field_has_a_key_decision():
    decided = [OVERLAY_KEY_INCLUDED, OVERLAY_KEY_EXCLUDED, OVERLAY_KEY_TRANSFORMED]
    assert not (decided[0] & decided[1]) and not (decided[0] & decided[2]) and not (decided[1] & decided[2])
    all_fields: set[str] = set()
    for name in dir(overlay_module):
        cls = getattr(overlay_module, name)
        if isinstance(cls, type) and issubclass(cls, overlay_module._OverlayBase):
            all_fields |= set(cls.model_fields)
    assert all_fields == set().union(*decided), "decide the key policy of new overlay fields"


def test_policy_check_catches_an_undecided_field():
    class Extended(component_module.ReleaseConfig):
        bump: int = 0

    assert key_policy_gaps(Extended) == {"bump"}


def test_default_key_fields_are_canonical():
    fields = ComponentConfig().key_fields()
    assert canonical(fields)
    assert fields["build"]["check"] == {"skip": False}
    assert "failure" not in fields["build"] and "hints" not in fields["build"]


def test_absent_equals_default():
    explicit = ComponentConfig.model_validate({
        "release": {"calculation": "auto"},
        "build": {"with": [], "defines": {}, "check": {"skip": False}},
        "spec": {"type": "local"},
    }, by_name=False)
    assert digest(explicit.key_fields()) == digest(ComponentConfig().key_fields())


def test_overlay_description_and_source_directory_are_not_keyed():
    def key(description: str, source: str) -> str:
        config = ComponentConfig.model_validate({"overlays": [
            {"type": "patch-add", "source": source, "description": description}]})
        return digest(config.key_fields())

    assert key("one", "patches/fix.patch") == key("two", "../elsewhere/fix.patch")
    assert key("one", "patches/fix.patch") != key("one", "patches/other.patch")


def test_key_does_not_depend_on_checkout_directory(tmp_path):
    first = write_tree(tmp_path / "one", AZURELINUX)
    second = tmp_path / "elsewhere" / "deeper"
    shutil.copytree(first, second)
    a, b = load_workspace(first), load_workspace(second)
    for name in a.components:
        fields = a.components[name].config.key_fields()
        assert str(tmp_path).encode() not in canonical(fields)
        assert digest(fields) == digest(b.components[name].config.key_fields())


# --------------------------------------------------------------------------- generated configs

NAMES = st.text(alphabet="abcdefghij_", min_size=1, max_size=6).filter(lambda s: s[0] != "_" or len(s) > 1)
TEXT = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), max_size=20)

OVERLAYS = st.one_of(
    st.builds(lambda t, v, d: {"type": "spec-set-tag", "tag": t, "value": v, "description": d},
              st.sampled_from(["Release", "Epoch", "Vendor"]), NAMES, TEXT),
    st.builds(lambda r, d: {"type": "spec-search-replace", "regex": r, "replacement": "x",
                            "description": d}, NAMES, TEXT),
    st.builds(lambda lines, d: {"type": "spec-append-lines", "lines": lines, "section": "%build",
                                "description": d}, st.lists(NAMES, min_size=1, max_size=3), TEXT),
    st.just({"type": "patch-add", "source": "patches/fix.patch", "description": "fix"}),
)

SOURCES = st.lists(st.builds(
    lambda name, kind, replace, uri: {
        "filename": f"{name}.tar.gz", "hash": SHA256 if kind == "SHA256" else SHA512,
        "hash-type": kind,
        "origin": {"type": "download", "uri": f"https://example.org/{uri}"},
        **({"replace-upstream": True, "replace-reason": "ours"} if replace else {}),
    }, NAMES, st.sampled_from(["SHA256", "SHA512"]), st.booleans(), NAMES),
    max_size=3, unique_by=lambda s: s["filename"])


@st.composite
def components(draw: st.DrawFn) -> dict[str, Any]:
    build: dict[str, Any] = {}
    if draw(st.booleans()):
        build["with"] = draw(st.lists(NAMES, max_size=3))
    if draw(st.booleans()):
        build["without"] = draw(st.lists(NAMES, max_size=3))
    if draw(st.booleans()):
        build["defines"] = draw(st.dictionaries(NAMES, NAMES, max_size=3))
    if draw(st.booleans()):
        build["undefines"] = draw(st.lists(NAMES, max_size=2))
    if draw(st.booleans()):
        build["check"] = {"skip": True, "skip_reason": "flaky"}
    if draw(st.booleans()):
        build["source-date-epoch"] = draw(st.integers(1, 2**40))
    if draw(st.booleans()):
        build["failure"] = {"expected": True, "expected-reason": "known"}
    if draw(st.booleans()):
        build["hints"] = {"expensive": draw(st.booleans())}
    config: dict[str, Any] = {"spec": {"type": "local", "path": "foo.spec"}}
    if build:
        config["build"] = build
    if draw(st.booleans()):
        config["release"] = {"calculation": draw(st.sampled_from(["auto", "autorelease", "static", "manual"]))}
    sources = draw(SOURCES)
    if sources:
        config["source-files"] = sources
    overlays = draw(st.lists(OVERLAYS, max_size=4))
    if overlays:
        config["overlays"] = overlays
    return config


def _toml_string(text: str, escape_all: bool) -> str:
    body = json.dumps(text, ensure_ascii=False)[1:-1]
    if escape_all:  # TOML's \uXXXX / \UXXXXXXXX escapes (JSON's surrogate pairs are not TOML)
        body = "".join(c if ord(c) < 128 else (f"\\u{ord(c):04X}" if ord(c) < 0x10000
                                              else f"\\U{ord(c):08X}") for c in body)
    return f'"{body}"'


def _inline(value: Any, rnd: random.Random) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return _toml_string(value, rnd.random() < 0.5)
    if isinstance(value, list):
        return "[" + ", ".join(_inline(v, rnd) for v in value) + "]"
    items = list(value.items())
    rnd.shuffle(items)
    return "{ " + ", ".join(f"{json.dumps(k)} = {_inline(v, rnd)}" for k, v in items) + " }"


def _emit(path: list[str], table: dict[str, Any], rnd: random.Random, out: list[str]) -> None:
    items = list(table.items())
    rnd.shuffle(items)
    scalars, tables, arrays = [], [], []
    for key, value in items:
        if isinstance(value, dict) and rnd.random() < 0.5:
            tables.append((key, value))
        elif (isinstance(value, list) and value and all(isinstance(v, dict) for v in value)
              and rnd.random() < 0.5):
            arrays.append((key, value))
        else:
            scalars.append((key, value))
    out.append(f"{' ' * rnd.randint(0, 2)}[{'.'.join(json.dumps(p) for p in path)}]")
    for key, value in scalars:
        if rnd.random() < 0.3:
            out.append(f"# a comment {rnd.random()}")
        out.append(f"{json.dumps(key)}{' ' * rnd.randint(0, 3)}={' ' * rnd.randint(1, 3)}"
                   f"{_inline(value, rnd)}")
        if rnd.random() < 0.3:
            out.append("")
    for key, value in tables:
        _emit([*path, key], value, rnd, out)
    for key, entries in arrays:
        for entry in entries:
            header = '.'.join(json.dumps(p) for p in [*path, key])
            out.append(f"[[{header}]]")
            fields = list(entry.items())
            rnd.shuffle(fields)
            out.extend(f"{json.dumps(k)} = {_inline(v, rnd)}" for k, v in fields)


def render(config: dict[str, Any], seed: int) -> str:
    out: list[str] = []
    _emit(["components", "foo"], config, random.Random(seed), out)
    return "\n".join(out) + "\n"


def edit_documentation(config: dict[str, Any], marker: str) -> dict[str, Any]:
    """Change every documentation-only value: descriptions, reasons, URIs, hints, failure."""
    edited = json.loads(json.dumps(config))
    for overlay in edited.get("overlays", []):
        overlay["description"] = marker
    build = edited.get("build", {})
    if "check" in build:
        build["check"]["skip_reason"] = marker or "x"
    if "failure" in build:
        build["failure"] = {"expected": False}
    build.setdefault("hints", {})["expensive"] = bool(marker)
    for source in edited.get("source-files", []):
        source["origin"]["uri"] = f"https://mirror.example/{marker or 'x'}"
        if source.get("replace-upstream"):
            source["replace-reason"] = marker or "x"
    edited.setdefault("build", build)
    return edited


def key_of(text: str) -> str:
    with tempfile.TemporaryDirectory() as directory:
        root = write_tree(Path(directory), {"foo.comp.toml": text, "foo.spec": "Name: foo\n",
                                            "patches/fix.patch": "--- a\n"})
        workspace = load_workspace(root / "foo.comp.toml")
        return digest(workspace.components["foo"].config.key_fields())


SETTINGS = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(config=components(), seed_a=st.integers(0, 2**32), seed_b=st.integers(0, 2**32),
       marker=TEXT)
def test_key_ignores_order_formatting_comments_and_documentation(config, seed_a, seed_b, marker):
    assert key_of(render(config, seed_a)) == key_of(render(edit_documentation(config, marker), seed_b))


def _mutations(config: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """Build-relevant edits, each of which must change the key."""
    def edited(change) -> dict[str, Any]:
        copy = json.loads(json.dumps(config))
        change(copy)
        return copy

    build = lambda c: c.setdefault("build", {})  # noqa: E731
    result = [
        ("with", edited(lambda c: build(c).setdefault("with", []).append("zz_new"))),
        ("without", edited(lambda c: build(c).setdefault("without", []).append("zz_new"))),
        ("define", edited(lambda c: build(c).setdefault("defines", {}).__setitem__("zz_new", "1"))),
        ("undefine", edited(lambda c: build(c).setdefault("undefines", []).append("zz_new"))),
        ("check", edited(lambda c: build(c).__setitem__(
            "check", {"skip": not build(c).get("check", {}).get("skip", False), "skip_reason": "r"}))),
        ("epoch", edited(lambda c: build(c).__setitem__(
            "source-date-epoch", build(c).get("source-date-epoch", 1) + 1))),
        ("release", edited(lambda c: c.__setitem__("release", {"calculation": "manual" if c.get(
            "release", {}).get("calculation") != "manual" else "static"}))),
        ("provenance", edited(lambda c: build(c).__setitem__("emit-upstream-provenance", True))),
        ("add-source", edited(lambda c: c.setdefault("source-files", []).append(
            {"filename": "zz-new.tar.gz", "hash": SHA256, "hash-type": "SHA256"}))),
        ("add-overlay", edited(lambda c: c.setdefault("overlays", []).append(
            {"type": "spec-remove-tag", "tag": "Epoch"}))),
    ]
    if config.get("source-files"):
        result.append(("hash", edited(lambda c: c["source-files"][0].__setitem__(
            "hash", (SHA256 if c["source-files"][0]["hash-type"] == "SHA256" else SHA512).replace("a", "b")))))
        result.append(("replace", edited(lambda c: c["source-files"][0].update(
            {"replace-upstream": True, "replace-reason": "r"} if not c["source-files"][0].get("replace-upstream")
            else {"replace-upstream": False, "replace-reason": ""}))))
    undocumented = [{k: v for k, v in o.items() if k != "description"}
                    for o in config.get("overlays", [])]
    if len(undocumented) > 1 and undocumented[0] != undocumented[1]:
        result.append(("overlay-order", edited(lambda c: c["overlays"].insert(0, c["overlays"].pop(1)))))
    if config.get("overlays"):
        result.append(("drop-overlay", edited(lambda c: c["overlays"].pop())))
    return result


@SETTINGS
@given(config=components(), seed=st.integers(0, 2**32), data=st.data())
def test_key_changes_with_every_build_relevant_field(config, seed, data):
    name, mutated = data.draw(st.sampled_from(_mutations(config)))
    assert key_of(render(config, seed)) != key_of(render(mutated, seed)), name
