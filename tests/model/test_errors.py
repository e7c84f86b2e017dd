"""Every validation error is one line naming file, table and key (ConfigError, exit 2)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.model.conftest import SHA256

PROJECT = {"hermetic.toml": 'includes = ["base/comps/**/*.comp.toml"]\n'}


def comp(body: str, name: str = "foo") -> dict[str, str]:
    return {**PROJECT, f"base/comps/{name}.comp.toml": body, f"base/comps/{name}.spec": "Name: x\n"}


def test_skip_without_reason_names_file_table_and_key(load_error):
    message = load_error(comp("""
        [components.foo]
        build.check.skip = true
    """))
    assert message == ("base/comps/foo.comp.toml: components.foo.build.check: "
                       "skip_reason is required when skip = true")


def test_expected_failure_without_reason(load_error):
    message = load_error(comp("""
        [components.foo.build.failure]
        expected = true
    """))
    assert message == ("base/comps/foo.comp.toml: components.foo.build.failure: "
                       "expected-reason is required when expected = true")


def _source(**fields: str) -> str:
    entry = {"filename": '"foo.tar.gz"', "hash": f'"{SHA256}"', "hash-type": '"SHA256"',
             **fields}
    lines = "\n".join(f"{key} = {value}" for key, value in entry.items())
    return f"[components.foo]\n[[components.foo.source-files]]\n{lines}\n"


@pytest.mark.parametrize("name", ["../evil.tar.gz", "dir/foo.tar.gz", "/etc/passwd", "..", "."])
def test_source_file_names_must_be_plain(load_error, name):
    message = load_error(comp(_source(filename=f'"{name}"')))
    assert message.startswith("base/comps/foo.comp.toml: components.foo.source-files[0].filename: "
                              "filename must be a plain file name")


@pytest.mark.parametrize("hash_type", ["MD5", "SHA1", "sha256"])
def test_unsupported_hash_types(load_error, hash_type):
    message = load_error(comp(_source(**{"hash-type": f'"{hash_type}"'})))
    assert message.startswith(
        "base/comps/foo.comp.toml: components.foo.source-files[0].hash-type: ")
    assert "SHA256" in message


def test_hash_must_match_its_type(load_error):
    message = load_error(comp(_source(**{"hash-type": '"SHA512"'})))
    assert message.startswith("base/comps/foo.comp.toml: components.foo.source-files[0]: "
                              "hash must be 128 hex digits for SHA512")


def test_hash_is_required(load_error):
    body = '[components.foo]\n[[components.foo.source-files]]\nfilename = "a.tgz"\nhash-type = "SHA256"\n'
    assert load_error(comp(body)) == (
        "base/comps/foo.comp.toml: components.foo.source-files[0].hash: required key missing")


def test_replace_upstream_needs_a_reason(load_error):
    message = load_error(comp(_source(**{"replace-upstream": "true"})))
    assert message == ("base/comps/foo.comp.toml: components.foo.source-files[0]: "
                       "replace-reason is required when replace-upstream = true")


def test_duplicate_source_file_names(load_error):
    body = _source() + f'[[components.foo.source-files]]\nfilename = "foo.tar.gz"\nhash = "{SHA256}"\nhash-type = "SHA256"\n'
    assert "duplicate filename 'foo.tar.gz'" in load_error(comp(body))


def test_origin_uri_must_be_a_uri(load_error):
    message = load_error(comp(_source(origin='{ type = "download", uri = "foo.tar.gz" }')))
    assert message.startswith("base/comps/foo.comp.toml: components.foo.source-files[0].origin.uri: ")


def test_unknown_key_is_named_with_its_toml_spelling(load_error):
    message = load_error(comp("[components.foo.build]\nwith-out = ['x']\n"))
    assert message == "base/comps/foo.comp.toml: components.foo.build.with-out: unknown key"


def test_python_spelling_is_not_a_toml_key(load_error):
    message = load_error(comp("[components.foo.spec]\ntype = 'upstream'\nupstream_name = 'x'\n"))
    assert message == "base/comps/foo.comp.toml: components.foo.spec.upstream_name: unknown key"


def test_wrong_type_shows_the_value(load_error):
    message = load_error(comp("[components.foo.build.check]\nskip = 'yes'\n"))
    assert message.startswith("base/comps/foo.comp.toml: components.foo.build.check.skip: ")
    assert "'yes'" in message


def test_release_calculation_values(load_error):
    message = load_error(comp("[components.foo]\nrelease = { calculation = 'bump' }\n"))
    assert message.startswith("base/comps/foo.comp.toml: components.foo.release.calculation: ")
    assert "'autorelease'" in message


def test_spec_type_values(load_error):
    message = load_error(comp("[components.foo]\nspec = { type = 'git' }\n"))
    assert message.startswith("base/comps/foo.comp.toml: components.foo.spec.type: ")


def test_upstream_fields_need_an_upstream_spec(load_error):
    message = load_error(comp("[components.foo]\nspec = { type = 'local', upstream-commit = 'abcdef0' }\n"))
    assert message == ("base/comps/foo.comp.toml: components.foo.spec: "
                       "upstream-commit is only allowed when type = \"upstream\"")


def test_upstream_commit_must_be_hex(load_error):
    message = load_error(comp("[components.foo]\nspec = { type = 'upstream', upstream-commit = 'main' }\n"))
    assert message.startswith("base/comps/foo.comp.toml: components.foo.spec.upstream-commit: ")


def test_source_date_epoch_must_be_positive(load_error):
    message = load_error(comp("[components.foo.build]\nsource-date-epoch = 0\n"))
    assert message.startswith("base/comps/foo.comp.toml: components.foo.build.source-date-epoch: ")


def test_toml_syntax_error_names_line_and_column(load_error):
    message = load_error(comp("[components.foo]\nbuild = {\n"))
    assert message.startswith("base/comps/foo.comp.toml:2:")
    assert "TOML syntax error" in message


def test_duplicate_toml_key_is_a_syntax_error(load_error):
    message = load_error(comp("[components.foo]\nrelease.calculation = 'auto'\nrelease.calculation = 'auto'\n"))
    assert message.startswith("base/comps/foo.comp.toml:3:")


def test_unknown_overlay_type(load_error):
    message = load_error(comp("[[components.foo.overlays]]\ntype = 'spec-frobnicate'\n"))
    assert message.startswith("base/comps/foo.comp.toml: components.foo.overlays[0]: "
                              "unknown overlay type 'spec-frobnicate'")


def test_overlay_without_type(load_error):
    message = load_error(comp("[[components.foo.overlays]]\ntag = 'x'\n"))
    assert message.startswith("base/comps/foo.comp.toml: components.foo.overlays[0]: type is required")


def test_overlay_missing_field_is_located_without_the_union_tag(load_error):
    message = load_error(comp("[[components.foo.overlays]]\ntype = 'spec-add-tag'\ntag = 'BuildRequires'\n"))
    assert message == ("base/comps/foo.comp.toml: components.foo.overlays[0].value: "
                       "required key missing")


def test_overlay_bad_regex(load_error):
    message = load_error(comp("[[components.foo.overlays]]\ntype = 'spec-search-replace'\nregex = '('\n"))
    assert message.startswith("base/comps/foo.comp.toml: components.foo.overlays[0].regex: invalid regex")


def test_overlay_source_must_exist(load_error):
    message = load_error(comp("[[components.foo.overlays]]\ntype = 'patch-add'\nsource = 'missing.patch'\n"))
    assert message == ("base/comps/foo.comp.toml: components.foo.overlays[0].source: "
                       "file not found: missing.patch")


def test_local_spec_must_exist(load_error):
    files = {**PROJECT, "base/comps/foo.comp.toml": "[components.foo]\nspec = { type = 'local', path = 'nope.spec' }\n"}
    assert load_error(files) == ("base/comps/foo.comp.toml: components.foo.spec.path: "
                                 "spec file not found: nope.spec")


def test_unknown_upstream_distro(load_error):
    message = load_error(comp("[components.foo]\nspec = { type = 'upstream', upstream-distro = { name = 'fedora' } }\n"))
    assert message.startswith("base/comps/foo.comp.toml: components.foo.spec.upstream-distro: "
                              "unknown distro 'fedora'")


def test_unknown_distro_version(load_error):
    files = comp("[components.foo]\nspec = { type = 'upstream', upstream-distro = { name = 'fedora', version = '99' } }\n")
    files["hermetic.toml"] += "[distros.fedora.versions.43]\nrelease-ver = '43'\n"
    assert "distro 'fedora' has no version '99'" in load_error(files)


def test_distro_template_placeholders(load_error):
    files = {"hermetic.toml": "[distros.fedora]\nlookaside-base-uri = 'https://x/$pkg/$sha'\n"}
    message = load_error(files)
    assert message.startswith("hermetic.toml: distros.fedora.lookaside-base-uri: ")
    assert "$sha" in message


def test_literal_include_missing(load_error):
    message = load_error({"hermetic.toml": 'includes = ["a.toml", "comps/missing.toml"]\n', "a.toml": ""})
    assert message == "hermetic.toml: includes[1]: file not found: comps/missing.toml"


def test_circular_include(load_error):
    message = load_error({"hermetic.toml": 'includes = ["a.toml"]\n', "a.toml": 'includes = ["b.toml"]\n',
                          "b.toml": 'includes = ["a.toml"]\n'})
    assert "circular include: a.toml -> b.toml -> a.toml" in message


def test_duplicate_component_names_both_files(load_error):
    files = {**comp("[components.foo]\nrelease.calculation = 'manual'\n"),
             "base/comps/other.comp.toml": "[components.foo]\nrelease.calculation = 'static'\n"}
    message = load_error(files)
    assert "base/comps/foo.comp.toml" in message and "base/comps/other.comp.toml" in message
    assert "components.foo" in message


def test_duplicate_component_group(load_error):
    files = {"hermetic.toml": 'includes = ["a.toml"]\n[component-groups.g]\n',
             "a.toml": "[component-groups.g]\n"}
    assert load_error(files) == "a.toml: component-groups.g: already defined in hermetic.toml"


def test_buildroot_image_needs_path(load_error):
    message = load_error({"hermetic.toml": "[buildroot]\ntype = 'image'\n"})
    assert message == 'hermetic.toml: buildroot: path is required when type = "image"'


def test_buildroot_unknown_type(load_error):
    message = load_error({"hermetic.toml": "[buildroot]\ntype = 'docker'\n"})
    assert message.startswith("hermetic.toml: buildroot.type: ")


def test_overlay_file_needs_metadata(load_error):
    files = comp("[components.foo]\noverlay-files = ['foo.overlay.toml']\n")
    files["base/comps/foo.overlay.toml"] = "[[overlays]]\ntype = 'spec-remove-tag'\ntag = 'Epoch'\n"
    assert load_error(files) == "base/comps/foo.overlay.toml: metadata: required key missing"


def test_overlay_file_rejects_per_overlay_metadata(load_error):
    files = comp("[components.foo]\noverlay-files = ['foo.overlay.toml']\n")
    files["base/comps/foo.overlay.toml"] = """
[metadata]
category = "azl-pruning"
upstream-status = "inapplicable"
[[overlays]]
type = "spec-remove-tag"
tag = "Epoch"
metadata = { category = "azl-pruning", upstream-status = "unknown" }
"""
    assert "per-overlay metadata is not allowed" in load_error(files)


def test_overlay_file_must_hold_overlays(load_error):
    files = comp("[components.foo]\noverlay-files = ['foo.overlay.toml']\n")
    files["base/comps/foo.overlay.toml"] = "[metadata]\ncategory = 'azl-pruning'\nupstream-status = 'unknown'\n"
    assert load_error(files).startswith("base/comps/foo.overlay.toml: overlays: ")


def test_overlay_file_metadata_is_free_text_documentation(tmp_path):
    # Categories differ between azldev releases (upstream-backport, backport-dist-git, ...);
    # metadata never changes a build, so any category and a missing upstream-status load.
    from hermetic.model import load_workspace

    comp_dir = tmp_path / "base/comps"
    comp_dir.mkdir(parents=True)
    (tmp_path / "hermetic.toml").write_text('includes = ["base/comps/*.comp.toml"]\n')
    (comp_dir / "foo.comp.toml").write_text(
        "[components.foo]\noverlay-files = ['foo.overlay.toml']\n")
    (comp_dir / "foo.overlay.toml").write_text(
        '[metadata]\ncategory = "backport-dist-git"\n'
        '[[overlays]]\ntype = "spec-remove-tag"\ntag = "Epoch"\n')
    (comp_dir / "foo.spec").write_text("Name: foo\n")
    workspace = load_workspace(tmp_path)
    assert [b.overlay.type for b in workspace.components["foo"].overlays] == ["spec-remove-tag"]


def test_overlay_file_metadata_needs_a_category(load_error):
    files = comp("[components.foo]\noverlay-files = ['foo.overlay.toml']\n")
    files["base/comps/foo.overlay.toml"] = (
        "[metadata]\nupstream-status = 'unknown'\n[[overlays]]\ntype = 'spec-remove-tag'\ntag = 'Epoch'\n")
    assert "metadata.category" in load_error(files)


def test_literal_overlay_file_missing(load_error):
    message = load_error(comp("[components.foo]\noverlay-files = ['overlays/0001.overlay.toml']\n"))
    assert message == ("base/comps/foo.comp.toml: components.foo.overlay-files[0]: "
                       "file not found: overlays/0001.overlay.toml")


def test_spec_discovery_globs_are_refused(load_error):
    message = load_error({"hermetic.toml": "[component-groups.g]\nspecs = ['SPECS/**/*.spec']\n"})
    assert message.startswith("hermetic.toml: component-groups.g.specs: spec discovery")


def test_error_after_inheritance_says_so(load_error):
    files = comp("[components.foo]\nspec = { type = 'local' }\n")
    files["hermetic.toml"] += "[default-component-config.spec]\nupstream-name = 'bar'\n"
    message = load_error(files)
    assert message.startswith("base/comps/foo.comp.toml: components.foo.spec: ")
    assert message.endswith("(after inheritance)")


def test_several_errors_are_counted_on_one_line(load_error):
    message = load_error(comp("[components.foo.build]\nfoo = 1\nbar = 2\n"))
    assert message.endswith("(and 1 more error)")


def test_cli_exits_2_with_one_line(tmp_path):
    from tests.model.conftest import write_tree
    write_tree(tmp_path, comp("[components.foo]\nbuild.check.skip = true\n"))
    result = subprocess.run([sys.executable, "-m", "hermetic", "-C", str(tmp_path), "config", "dump"],
                            capture_output=True, text=True)
    assert result.returncode == 2
    assert result.stderr.splitlines()[0] == (
        "hermetic: error: base/comps/foo.comp.toml: components.foo.build.check: "
        "skip_reason is required when skip = true")
