"""Pure parts of the audit: variation plans, cpio parsing, tag classes, payload comparison."""

from __future__ import annotations

import io

import pytest

from hermetic.audit.compare import compare_payloads, tag_class
from hermetic.audit.payload import PayloadFile, parse_newc
from hermetic.audit.variations import (DEFAULT_VARIATIONS, order_names, parse_vary,
                                       plan_round, plan_rounds)
from hermetic.errors import ConfigError


def test_parse_vary_all_subtract_and_unknown() -> None:
    assert parse_vary(None) == DEFAULT_VARIATIONS
    assert parse_vary("time,umask") == ("time", "umask")
    assert "user" not in parse_vary("all,-user")
    with pytest.raises(ConfigError, match="unknown variation 'moon-phase'"):
        parse_vary("time,moon-phase")


def test_round_zero_is_the_baseline_and_later_rounds_vary_everything_chosen() -> None:
    plans = plan_rounds(3, DEFAULT_VARIATIONS)
    base, first, second = plans
    assert base == plan_round(0, DEFAULT_VARIATIONS)
    assert (base.umask, base.uid, base.hostname, base.faketime_offset) == (0o022, 0, None, None)
    assert first.faketime_offset and first.hostname and first.uid and first.umask != 0o022
    assert first.env_overrides["TZ"] != second.env_overrides["TZ"]   # rounds differ pairwise
    assert first.faketime_offset != second.faketime_offset
    only_time = plan_round(1, ("time",))
    assert only_time.uid == 0 and only_time.env_overrides == {} and only_time.faketime_offset
    with pytest.raises(ConfigError, match="at least 2 rounds"):
        plan_rounds(1, DEFAULT_VARIATIONS)


def test_file_orders() -> None:
    names = ["b", "a", "c", "d"]
    assert order_names(names, "sorted", 0) == ["a", "b", "c", "d"]
    assert order_names(names, "reversed", 0) == ["d", "c", "b", "a"]
    assert sorted(order_names(names, "shuffled", 2)) == ["a", "b", "c", "d"]
    assert order_names(names, "shuffled", 2) == order_names(names, "shuffled", 2)


def _newc(entries: list[tuple[str, int, bytes]]) -> bytes:
    out = bytearray()
    for name, mode, data in entries + [("TRAILER!!!", 0, b"")]:
        raw = name.encode() + b"\0"
        fields = [1, mode, 0, 0, 1, 1700000000, len(data), 0, 0, 0, 0, len(raw), 0]
        out += b"070701" + b"".join(b"%08X" % f for f in fields) + raw
        out += b"\0" * ((4 - (110 + len(raw)) % 4) % 4)
        out += data + b"\0" * ((4 - len(data) % 4) % 4)
    return bytes(out)


def test_parse_newc_reads_files_links_and_dirs() -> None:
    stream = _newc([("./usr/share/x", 0o040755, b""), ("./usr/share/x/a.txt", 0o100644, b"hello\n"),
                    ("./usr/share/x/link", 0o120777, b"a.txt")])
    files = parse_newc(io.BytesIO(stream))
    assert sorted(files) == ["/usr/share/x", "/usr/share/x/a.txt", "/usr/share/x/link"]
    assert files["/usr/share/x/a.txt"].size == 6 and files["/usr/share/x/a.txt"].content == b"hello\n"
    assert files["/usr/share/x/link"].link == "a.txt"
    with pytest.raises(EOFError):
        parse_newc(io.BytesIO(stream[:150]))


def test_tag_classes() -> None:
    assert tag_class("BUILDTIME") == tag_class("BUILDHOST") == tag_class("COOKIE") == "volatile"
    assert tag_class("SOURCEPKGID") == tag_class("RSAHEADER") == "volatile"
    assert tag_class("SHA256HEADER") == tag_class("PAYLOADDIGEST") == "digest"
    assert tag_class("FILEDIGESTS") == tag_class("DESCRIPTION") == "content"


def test_compare_payloads_names_each_kind_of_change() -> None:
    def f(path: str, data: bytes, mode: int = 0o100644, mtime: int = 1) -> PayloadFile:
        return PayloadFile(path, len(data), mode, mtime, data.hex(), None, data)
    a = {"/same": f("/same", b"x"), "/text": f("/text", b"one\n"), "/gone": f("/gone", b"g"),
         "/mode": f("/mode", b"m"), "/time": f("/time", b"t")}
    b = {"/same": f("/same", b"x"), "/text": f("/text", b"two\n"), "/new": f("/new", b"n"),
         "/mode": f("/mode", b"m", mode=0o100600), "/time": f("/time", b"t", mtime=2)}
    changes = {d.path: d for d in compare_payloads(a, b)}
    assert {p: d.change for p, d in changes.items()} == {
        "/text": "content", "/gone": "removed", "/new": "added", "/mode": "mode",
        "/time": "mtime"}
    assert "-one" in changes["/text"].text_diff and "+two" in changes["/text"].text_diff
