"""Loading: project files, includes and globs, inheritance, overlay files, distros, buildroot."""

from __future__ import annotations

from pathlib import Path

from hermetic.model import load_workspace
from hermetic.model.overlays import PatchAdd, SpecSearchReplace
from hermetic.model.project import DEFAULT_BUILDROOT_PACKAGES
from tests.model.conftest import SHA256, SHA512, write_tree

SPEC = "Name: x\nVersion: 1\nRelease: 1\n"


def test_includes_with_double_star_relative_to_including_file(load, tmp_path):
    ws = load({
        "hermetic.toml": 'includes = ["base/project.toml"]\n',
        "base/project.toml": 'includes = ["comps/**/*.comp.toml", "comps/none/*.toml"]\n',
        "base/comps/a/deep/a.comp.toml": "[components.a]\n",
        "base/comps/a/deep/a.spec": SPEC,
        "base/comps/b.comp.toml": "[components.b]\n",
        "base/comps/b.spec": SPEC,
    })
    assert list(ws.components) == ["a", "b"]
    assert ws.project_file == tmp_path / "hermetic.toml"
    assert ws.root == tmp_path
    assert ws.components["a"].defined_in == tmp_path / "base/comps/a/deep/a.comp.toml"
    assert ws.components["a"].spec_path == tmp_path / "base/comps/a/deep/a.spec"


def test_azldev_toml_is_a_project_file_and_found_walking_up(tmp_path):
    write_tree(tmp_path, {"azldev.toml": 'includes = ["c/*.comp.toml"]\n',
                          "c/z.comp.toml": "[components.z]\n", "c/z.spec": SPEC})
    ws = load_workspace(tmp_path / "c")
    assert ws.project_file == tmp_path / "azldev.toml"
    assert list(ws.components) == ["z"]


def test_components_sorted_by_name(load):
    ws = load({"hermetic.toml": "".join(f"[components.{n}]\n" for n in "cab"),
               "a.spec": SPEC, "b.spec": SPEC, "c.spec": SPEC})
    assert list(ws.components) == ["a", "b", "c"]


def test_lone_component_file_without_project(tmp_path):
    write_tree(tmp_path, {"hello.comp.toml": "[components.hello]\nspec = { type = 'local', path = 'hello.spec' }\n",
                          "hello.spec": SPEC})
    ws = load_workspace(tmp_path / "hello.comp.toml")
    assert ws.project_file is None and ws.root == tmp_path
    assert ws.buildroot.type == "created"
    assert ws.selected == ("hello",)
    assert ws.components["hello"].config.spec.type == "local"


def test_component_file_inside_a_project_selects_its_components(tmp_path):
    write_tree(tmp_path, {"hermetic.toml": 'includes = ["*.comp.toml"]\n',
                          "a.comp.toml": "[components.a]\n", "b.comp.toml": "[components.b]\n",
                          "a.spec": SPEC, "b.spec": SPEC})
    ws = load_workspace(tmp_path / "b.comp.toml")
    assert ws.project_file == tmp_path / "hermetic.toml"
    assert set(ws.components) == {"a", "b"}
    assert ws.selected == ("b",)


def test_empty_registration_and_definition_merge(load):
    ws = load({"hermetic.toml": 'includes = ["comps/*.comp.toml"]\n[components.foo]\n',
               "comps/foo.comp.toml": "[components.foo]\nrelease.calculation = 'manual'\n",
               "comps/foo.spec": SPEC})
    assert ws.components["foo"].config.release.calculation == "manual"
    assert ws.components["foo"].defined_in.name == "foo.comp.toml"


INHERITANCE = {
    "hermetic.toml": """
        includes = ["distro.toml", "comps/*.comp.toml"]
        [project]
        default-distro = { name = "azl" }
        [default-component-config.build]
        with = ["project"]
        defines = { layer = "project", project_only = "p" }
        [component-groups.zeta]
        components = ["foo"]
        default-component-config = { build = { with = ["zeta"], defines = { layer = "zeta" } } }
        [component-groups.alpha]
        components = ["foo"]
        default-component-config = { build = { with = ["alpha"], defines = { layer = "alpha" } } }
    """,
    "distro.toml": """
        [distros.azl]
        default-version = "4.0"
        [distros.azl.versions."4.0".default-component-config.build]
        with = ["distro"]
        defines = { layer = "distro", distro_only = "d" }
        check = { skip = true, skip_reason = "off by default" }
    """,
    "comps/foo.comp.toml": """
        [components.foo.build]
        with = ["component"]
        check = { skip = false }
    """,
    "comps/foo.spec": SPEC,
    "comps/bar.comp.toml": "[components.bar]\n",
    "comps/bar.spec": SPEC,
}


def test_inheritance_order_distro_project_groups_component(load):
    ws = load(INHERITANCE)
    build = ws.components["foo"].config.build
    # Arrays append in layer order; groups sorted by name (alpha before zeta).
    assert build.with_ == ("distro", "project", "alpha", "zeta", "component")
    assert build.defines == {"layer": "zeta", "project_only": "p", "distro_only": "d"}
    # An explicit `false` overrides an inherited `true`.
    assert build.check.skip is False
    bar = ws.components["bar"].config.build
    assert bar.with_ == ("distro", "project") and bar.check.skip is True
    assert bar.defines["layer"] == "project"


def test_overlays_append_across_layers_with_their_own_base_dirs(load, tmp_path):
    ws = load({
        "hermetic.toml": """
            includes = ["comps/*.comp.toml"]
            [[default-component-config.overlays]]
            type = "patch-add"
            source = "patches/common.patch"
        """,
        "patches/common.patch": "--- a\n",
        "comps/foo.comp.toml": """
            [[components.foo.overlays]]
            type = "patch-add"
            source = "foo.patch"
        """,
        "comps/foo.patch": "--- b\n",
        "comps/foo.spec": SPEC,
    })
    overlays = ws.components["foo"].overlays
    assert [o.source_path for o in overlays] == [tmp_path / "patches/common.patch",
                                                tmp_path / "comps/foo.patch"]
    assert [o.index for o in overlays] == [0, 1]
    assert overlays[0].origin == "hermetic.toml: default-component-config.overlays[0]"
    assert overlays[1].origin == "comps/foo.comp.toml: components.foo.overlays[0]"


def test_spec_path_resolves_against_the_layer_that_set_it(load, tmp_path):
    ws = load({"hermetic.toml": 'includes = ["comps/foo.comp.toml"]\n',
               "comps/foo.comp.toml": "[components.foo]\nspec = { type = 'local', path = '../specs/foo.spec' }\n",
               "specs/foo.spec": SPEC})
    assert ws.components["foo"].spec_path == tmp_path / "specs/foo.spec"


OVERLAY_META = '[metadata]\ncategory = "azl-compatibility"\nupstream-status = "upstreamable"\n'


def test_overlay_files_order_dedup_and_placeholder(load, tmp_path):
    ws = load({
        "hermetic.toml": """
            includes = ["comps/**/*.comp.toml"]
            [default-component-config]
            overlay-files = ["comps/{component}/overlays/*.overlay.toml"]
        """,
        "comps/foo/foo.comp.toml": """
            [components.foo]
            overlay-files = ["overlays/0002-b.overlay.toml"]
            [[components.foo.overlays]]
            type = "spec-remove-tag"
            tag = "Epoch"
        """,
        "comps/foo/foo.spec": SPEC,
        "comps/foo/overlays/0002-b.overlay.toml": OVERLAY_META + "[[overlays]]\ntype = 'spec-remove-tag'\ntag = 'B'\n",
        "comps/foo/overlays/0001-a.overlay.toml": OVERLAY_META + """
            [[overlays]]
            type = "spec-remove-tag"
            tag = "A1"
            [[overlays]]
            description = "adds the fix"
            type = "patch-add"
            source = "fix.patch"
        """,
        "comps/foo/overlays/fix.patch": "--- a\n",
        "comps/bar/bar.comp.toml": "[components.bar]\n",
        "comps/bar/bar.spec": SPEC,
    })
    foo = ws.components["foo"]
    tags = [getattr(o.overlay, "tag", None) for o in foo.overlays]
    # Inline first, then overlay-files in pattern order; glob matches by name; no duplicates.
    assert tags == ["Epoch", "A1", None, "B"]
    assert foo.overlays[2].source_path == tmp_path / "comps/foo/overlays/fix.patch"
    assert foo.overlays[1].origin == "comps/foo/overlays/0001-a.overlay.toml: overlays[0]"
    assert foo.overlays[1].overlay.metadata.category == "azl-compatibility"
    assert len(foo.config.overlays) == 4
    assert ws.components["bar"].overlays == ()  # the placeholder glob matches nothing: fine


FEDORA = """
    [distros.fedora]
    default-version = "42"
    dist-git-base-uri = "https://src.fedoraproject.org/rpms/$pkg.git"
    lookaside-base-uri = "https://src.fedoraproject.org/repo/pkgs/$pkg/$filename/$hashtype/$hash/$filename"
    [distros.fedora.versions.42]
    release-ver = "42"
    dist-git-branch = "f42"
    [distros.fedora.versions.43]
    release-ver = "43"
    dist-git-branch = "f43"
"""


def test_upstream_spec_resolves_distro_templates(load):
    ws = load({"hermetic.toml": FEDORA + """
        [components.jq]
        spec = { type = "upstream", upstream-distro = { name = "fedora", version = "43" }, upstream-name = "jq-tool", upstream-commit = "0123abcd" }
        [components.zlib]
        spec = { type = "upstream", upstream-distro = { name = "fedora", snapshot = 2025-01-31T00:00:00Z } }
    """})
    jq = ws.components["jq"]
    assert jq.spec_path is None
    assert jq.distro.dist_git_branch == "f43" and jq.distro.release_ver == "43"
    assert jq.distro.dist_git_base_uri == "https://src.fedoraproject.org/rpms/$pkg.git"
    assert jq.distro.dist_git_uri == "https://src.fedoraproject.org/rpms/jq-tool.git"
    assert jq.distro.upstream_commit == "0123abcd"
    assert jq.distro.lookaside_uri("jq-1.7.tar.gz", "SHA512", SHA512) == (
        f"https://src.fedoraproject.org/repo/pkgs/jq-tool/jq-1.7.tar.gz/sha512/{SHA512}/jq-1.7.tar.gz")
    zlib = ws.components["zlib"]
    assert zlib.distro.version == "42" and zlib.distro.dist_git_branch == "f42"
    assert zlib.distro.upstream_name == "zlib"
    assert zlib.distro.snapshot == "2025-01-31T00:00:00+00:00"
    assert zlib.config.spec.upstream_name == "zlib"


def test_buildroot_defaults_and_image_path(load, tmp_path):
    ws = load({"hermetic.toml": ""})
    assert ws.buildroot.type == "created" and ws.buildroot.name == "default"
    assert ws.buildroot.debian_suite == "bookworm"
    assert ws.buildroot.include == DEFAULT_BUILDROOT_PACKAGES
    ws = load({"hermetic.toml": "[buildroot]\ntype = 'image'\nname = 'img'\npath = 'images/root.tar'\n",
               "images/root.tar": ""})
    assert ws.buildroot.path == str(tmp_path / "images/root.tar")


def test_source_files_are_parsed(load):
    ws = load({"hermetic.toml": f"""
        [components.foo]
        [[components.foo.source-files]]
        filename = "foo-1.0.tar.gz"
        hash = "{SHA256.upper()}"
        hash-type = "SHA256"
        origin = {{ type = "download", uri = "http://127.0.0.1:8000/foo-1.0.tar.gz" }}
    """, "foo.spec": SPEC})
    source = ws.components["foo"].config.source_files[0]
    assert source.hash == SHA256  # one spelling per digest
    assert source.origin.uri.startswith("http://127.0.0.1")


# A component file in the shape of Azure Linux 4's base/comps (several overlays, groups,
# distro defaults, source files, azldev-only tables), loaded unchanged.
AZURELINUX = {
    "azldev.toml": 'includes = ["distro/distro.toml", "base/project.toml"]\n',
    "distro/distro.toml": 'includes = ["*.distro.toml"]\n',
    "distro/fedora.distro.toml": FEDORA.replace("[distros.fedora]\n", """[distros.fedora]
    repos = [ {"base-uri" = "https://example.org/fedora/$releasever/source/tree" } ]
"""),
    "distro/azurelinux.distro.toml": """
        [distros.azurelinux]
        description = "Azure Linux"
        default-version = "4.0"
        [distros.azurelinux.versions.'4.0']
        description = "Azure Linux 4.0"
        release-ver = "4.0"
        mock-config-x86_64 = "mock/azurelinux-4.0-x86_64.cfg"
        [distros.azurelinux.versions.'4.0'.default-component-config]
        spec = { type = "upstream", upstream-distro = { name = "fedora", version = "43" } }
        [distros.azurelinux.versions.'4.0'.default-component-config.build.check]
        skip = true
        skip_reason = "Checks are disabled by default."
        [distros.azurelinux.versions.'4.0'.default-component-config.build.defines]
        dist = ".azl4"
        vendor = "Microsoft Corporation"
        rhel = 10
    """,
    "base/project.toml": """
        includes = ["comps/components.toml"]
        [project]
        description = 'azurelinux-base'
        log-dir = 'build/logs'
        work-dir = 'build/work'
        output-dir = 'out'
        default-distro = { name = "azurelinux" }
        [images.vm-base]
        description = "not used by hermetic"
    """,
    "base/comps/components.toml": """
        includes = ["**/*.comp.toml", "component-check-disablement.toml"]
        [components.ant]
        [components.bash]
        [components.'cairomm1.16']
    """,
    "base/comps/component-check-disablement.toml": """
        [component-groups.check-skip-initial-failures]
        description = "Components with check failures during initial distro bringup"
        components = ["bash"]
        [component-groups.check-skip-initial-failures.default-component-config.build]
        check = { skip = true, skip_reason = "Disabling checks for initial set of failures." }
    """,
    "base/comps/ant/ant.comp.toml": """
        [components.ant]
        overlay-files = ["overlays/*.overlay.toml"]
        # Backport: remove the openjdk21 binding.
        [[components.ant.overlays]]
        description = "Remove openjdk21 JDK binding"
        type = "spec-search-replace"
        section = "%install"
        regex = "echo .JAVA_HOME=.*/jre-21-openjdk. > .*ant-openjdk21\\\\.conf"
        replacement = "# openjdk21 binding removed"

        [[components.ant.overlays]]
        description = "Remove openjdk21 %jp_binding invocation"
        type = "spec-search-replace"
        section = "%install"
        regex = "%jp_binding --verbose --variant openjdk21 [^\\\\n]*"
        replacement = "# (openjdk21 jp_binding removed)"

        [[components.ant.overlays]]
        type = "spec-remove-subpackage"
        package = "openjdk21"

        [[components.ant.overlays]]
        type = "spec-add-tag"
        tag = "BuildRequires"
        value = "msopenjdk-25"
        metadata = { category = "azl-compatibility", upstream-status = "inapplicable" }

        [components.ant.publish]
        rpm-channel = "base"
    """,
    "base/comps/ant/overlays/0003-stabilize-compression-level-test.overlay.toml": """
        [metadata]
        category = "azl-platform-adaptation"
        upstream-status = "upstreamable"

        [[overlays]]
        description = "Compare explicit ZIP compression levels"
        type = "patch-add"
        source = "ant-1.10.15-explicit-compression-level.patch"
    """,
    "base/comps/ant/overlays/ant-1.10.15-explicit-compression-level.patch": "--- a\n+++ b\n",
    "base/comps/SymCrypt/SymCrypt.comp.toml": f"""
        [components.SymCrypt]
        spec = {{ type = "local", path = "SymCrypt.spec" }}
        release = {{ calculation = "autorelease" }}

        [[components.SymCrypt.source-files]]
        filename = "SymCrypt-103.8.0.tar.gz"
        hash = "{SHA256}"
        hash-type = "SHA256"
        origin = {{ type = "download", uri = "https://github.com/microsoft/SymCrypt/archive/v103.8.0.tar.gz" }}
    """,
    "base/comps/SymCrypt/SymCrypt.spec": SPEC,
}


def test_realistic_azurelinux_tree_loads_unchanged(load, tmp_path):
    ws = load(AZURELINUX)
    assert ws.project_file == tmp_path / "azldev.toml"
    assert list(ws.components) == ["SymCrypt", "ant", "bash", "cairomm1.16"]
    ant = ws.components["ant"]
    assert [type(o.overlay).__name__ for o in ant.overlays] == [
        "SpecSearchReplace", "SpecSearchReplace", "SpecRemoveSubpackage", "SpecAddTag", "PatchAdd"]
    assert isinstance(ant.overlays[0].overlay, SpecSearchReplace)
    assert ant.overlays[0].overlay.regex == r"echo .JAVA_HOME=.*/jre-21-openjdk. > .*ant-openjdk21\.conf"
    assert isinstance(ant.overlays[4].overlay, PatchAdd)
    assert ant.overlays[4].source_path.is_file()
    assert ant.distro.name == "fedora" and ant.distro.dist_git_branch == "f43"
    assert ant.config.build.defines == {"dist": ".azl4", "vendor": "Microsoft Corporation", "rhel": "10"}
    assert ant.config.build.check.skip is True
    assert ws.components["bash"].config.build.check.skip_reason == (
        "Disabling checks for initial set of failures.")
    symcrypt = ws.components["SymCrypt"]
    assert symcrypt.config.spec.type == "local" and symcrypt.distro is None
    assert symcrypt.config.release.calculation == "autorelease"
    assert symcrypt.spec_path == tmp_path / "base/comps/SymCrypt/SymCrypt.spec"
    # A local spec's key ignores the inherited upstream distro.
    assert symcrypt.config.key_fields()["spec"]["upstream-distro"] is None
