"""Pure checks: declared digests, file names, the dist-git sources file, URI templates."""

from __future__ import annotations

import pytest

from hermetic.errors import FetchError
from hermetic.fetch.digests import check_file_name, declared_digest
from hermetic.fetch.sources_file import parse_sources_file
from hermetic.fetch.template import dist_git_url, expand, lookaside_url

SHA256 = "a" * 64
SHA512 = "b" * 128


def test_declared_digest_accepts_sha256_and_sha512_in_any_case() -> None:
    assert declared_digest("SHA256", SHA256.upper(), "x").hexdigest == SHA256
    assert declared_digest("sha512", SHA512, "x").algorithm == "sha512"


@pytest.mark.parametrize("hash_type, value, fragment", [
    ("MD5", "c" * 32, "MD5 is not supported"),
    ("SHA1", "c" * 40, "SHA1 is not supported"),
    ("CRC32", "c" * 8, "unsupported hash type 'CRC32'"),
    ("SHA256", "c" * 63, "must be 64 hex digits"),
    ("SHA512", "z" * 128, "must be 128 hex digits"),
])
def test_declared_digest_rejections_are_one_line(hash_type: str, value: str,
                                                 fragment: str) -> None:
    with pytest.raises(FetchError) as caught:
        declared_digest(hash_type, value, "comps/a.comp.toml: components.a.source-files[0]")
    message = str(caught.value)
    assert fragment in message
    assert message.startswith("comps/a.comp.toml: components.a.source-files[0]: ")
    assert "\n" not in message


@pytest.mark.parametrize("name, fragment", [
    ("../evil.tar.gz", "path separator"),
    ("sub/file.tar.gz", "path separator"),
    ("/etc/passwd", "absolute path"),
    ("..", "invalid file name"),
    ("", "invalid file name"),
    ("a\nb", "control character"),
])
def test_file_names_that_could_escape_are_refused(name: str, fragment: str) -> None:
    with pytest.raises(FetchError, match=fragment):
        check_file_name(name, "here")


def test_plain_file_names_pass() -> None:
    assert check_file_name("gcc-c++-13.2.tar.xz", "here") == "gcc-c++-13.2.tar.xz"


def test_sources_file_both_formats() -> None:
    text = (f"SHA512 (hello-2.12.tar.gz) = {SHA512}\n"
            "\n# a comment\n"
            f"{'d' * 32}  old-md5.tar.gz\n"
            f"{'e' * 64} *binary-mode.tar.gz\n")
    entries = parse_sources_file(text, "repo@c0ffee")
    assert [(e.filename, e.hash_type, len(e.hexdigest)) for e in entries] == [
        ("hello-2.12.tar.gz", "sha512", 128),
        ("old-md5.tar.gz", "md5", 32),
        ("binary-mode.tar.gz", "sha256", 64),
    ]
    assert entries[1].where == "repo@c0ffee/sources:4"


@pytest.mark.parametrize("text, fragment", [
    ("this is not a sources line\n", "sources:1: cannot parse"),
    (f"SHA512 (../x.tar.gz) = {SHA512}\n", "path separator"),
    (f"SHA512 (x.tar.gz) = {SHA512}\nSHA512 (x.tar.gz) = {SHA512}\n", "listed twice"),
])
def test_sources_file_rejections(text: str, fragment: str) -> None:
    with pytest.raises(FetchError, match=fragment):
        parse_sources_file(text, "repo")


def test_lookaside_template_does_not_confuse_hashtype_with_hash() -> None:
    template = "https://src.example/repo/pkgs/$pkg/$filename/$hashtype/$hash/$filename"
    url = lookaside_url(template, "hello", "hello-2.12.tar.gz", "SHA512", SHA512)
    assert url == (f"https://src.example/repo/pkgs/hello/hello-2.12.tar.gz/sha512/{SHA512}/"
                   f"hello-2.12.tar.gz")


def test_templates_escape_what_a_url_cannot_hold_and_keep_plus_and_tilde() -> None:
    assert lookaside_url("http://x/${pkg}/$filename", "gcc", "gcc c++~1.tar", "sha256",
                         SHA256) == "http://x/gcc/gcc%20c++~1.tar"
    assert dist_git_url("https://src.example/rpms/$pkg.git", "hello") == \
        "https://src.example/rpms/hello.git"


def test_template_placeholder_not_available_is_an_error() -> None:
    with pytest.raises(FetchError, match=r"uses \$filename"):
        expand("https://x/$pkg/$filename", {"pkg": "hello"}, "dist-git-base-uri")
