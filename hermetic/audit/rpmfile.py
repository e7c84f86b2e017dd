"""Read every tag of an RPM's signature and main headers, in pure Python.

``rpm -qp --qf`` can only ask for tags by name, one format string at a time; an audit wants all
of them, including the ones nobody thought to ask for. The on-disk format is small: a 96-byte
lead, the signature header (padded to 8 bytes), the main header, then the payload. Each header
is a magic, an index of (tag, type, offset, count) entries and a data store.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hermetic.errors import BuildError

LEAD_SIZE = 96
HEADER_MAGIC = b"\x8e\xad\xe8\x01"

# Data types (rpmtag.h).
NULL, CHAR, INT8, INT16, INT32, INT64, STRING, BIN, STRING_ARRAY, I18NSTRING = range(10)

# Main header tags an audit is likely to meet; others are shown as TAG_<number>.
MAIN_TAGS: dict[int, str] = {
    61: "HEADERIMAGE", 62: "HEADERSIGNATURES", 63: "HEADERIMMUTABLE", 100: "HEADERI18NTABLE",
    1000: "NAME", 1001: "VERSION", 1002: "RELEASE", 1003: "EPOCH", 1004: "SUMMARY",
    1005: "DESCRIPTION", 1006: "BUILDTIME", 1007: "BUILDHOST", 1008: "INSTALLTIME",
    1009: "SIZE", 1010: "DISTRIBUTION", 1011: "VENDOR", 1014: "LICENSE", 1015: "PACKAGER",
    1016: "GROUP", 1017: "CHANGELOG", 1018: "SOURCE", 1019: "PATCH", 1020: "URL", 1021: "OS",
    1022: "ARCH", 1023: "PREIN", 1024: "POSTIN", 1025: "PREUN", 1026: "POSTUN",
    1027: "OLDFILENAMES", 1028: "FILESIZES", 1029: "FILESTATES", 1030: "FILEMODES",
    1033: "FILERDEVS", 1034: "FILEMTIMES", 1035: "FILEDIGESTS", 1036: "FILELINKTOS",
    1037: "FILEFLAGS", 1039: "FILEUSERNAME", 1040: "FILEGROUPNAME", 1044: "SOURCERPM",
    1045: "FILEVERIFYFLAGS", 1046: "ARCHIVESIZE", 1047: "PROVIDENAME", 1048: "REQUIREFLAGS",
    1049: "REQUIRENAME", 1050: "REQUIREVERSION", 1051: "NOSOURCE", 1052: "NOPATCH",
    1053: "CONFLICTFLAGS", 1054: "CONFLICTNAME", 1055: "CONFLICTVERSION", 1057: "BUILDROOT",
    1059: "EXCLUDEARCH", 1061: "EXCLUSIVEARCH", 1064: "RPMVERSION", 1065: "TRIGGERSCRIPTS",
    1066: "TRIGGERNAME", 1067: "TRIGGERVERSION", 1068: "TRIGGERFLAGS", 1069: "TRIGGERINDEX",
    1079: "VERIFYSCRIPT", 1080: "CHANGELOGTIME", 1081: "CHANGELOGNAME", 1082: "CHANGELOGTEXT",
    1085: "PREINPROG", 1086: "POSTINPROG", 1087: "PREUNPROG", 1088: "POSTUNPROG",
    1089: "BUILDARCHS", 1090: "OBSOLETENAME", 1094: "COOKIE", 1095: "FILEDEVICES",
    1096: "FILEINODES", 1097: "FILELANGS", 1098: "PREFIXES", 1106: "SOURCEPACKAGE",
    1112: "PROVIDEFLAGS", 1113: "PROVIDEVERSION", 1114: "OBSOLETEFLAGS",
    1115: "OBSOLETEVERSION", 1116: "DIRINDEXES", 1117: "BASENAMES", 1118: "DIRNAMES",
    1122: "OPTFLAGS", 1123: "DISTURL", 1124: "PAYLOADFORMAT", 1125: "PAYLOADCOMPRESSOR",
    1126: "PAYLOADFLAGS", 1132: "PLATFORM", 1140: "FILECOLORS", 1141: "FILECLASS",
    1142: "CLASSDICT", 1143: "FILEDEPENDSX", 1144: "FILEDEPENDSN", 1145: "DEPENDSDICT",
    1146: "SOURCEPKGID", 1151: "PRETRANS", 1152: "POSTTRANS", 1153: "PRETRANSPROG",
    1154: "POSTTRANSPROG", 1155: "DISTTAG", 5011: "FILEDIGESTALGO", 5012: "BUGURL",
    5017: "HEADERCOLOR", 5020: "ORDERNAME", 5062: "ENCODING", 5066: "FILETRIGGERSCRIPTS",
    5092: "PAYLOADDIGEST", 5093: "PAYLOADDIGESTALGO", 5096: "MODULARITYLABEL",
    5097: "PAYLOADDIGESTALT", 5105: "RPMFORMAT", 5112: "SOURCENEVR",
}

SIGNATURE_TAGS: dict[int, str] = {
    62: "HEADERSIGNATURES", 267: "DSAHEADER", 268: "RSAHEADER", 269: "SHA1HEADER",
    270: "LONGSIGSIZE", 271: "LONGARCHIVESIZE", 273: "SHA256HEADER", 274: "FILESIGNATURES",
    275: "FILESIGNATURELENGTH", 276: "VERITYSIGNATURES", 277: "VERITYSIGNATUREALGO",
    1000: "SIGSIZE", 1002: "SIGPGP", 1004: "SIGMD5", 1005: "SIGGPG", 1007: "PAYLOADSIZE",
    1008: "RESERVEDSPACE",
}


@dataclass(frozen=True)
class RpmHeaders:
    """Both headers as tag name → value, and where the payload starts."""

    signature: dict[str, Any]
    main: dict[str, Any]
    payload_offset: int

    def file_paths(self) -> list[str]:
        """The payload's file paths in header order (FILE* tags are indexed the same way)."""
        names = self.main.get("BASENAMES") or []
        dirs = self.main.get("DIRNAMES") or []
        indexes = self.main.get("DIRINDEXES") or []
        if names and len(indexes) == len(names):
            return [dirs[i] + name for i, name in zip(indexes, names)]
        return list(self.main.get("OLDFILENAMES") or [])


def _strings(data: bytes, start: int, count: int) -> tuple[list[str], int]:
    values = []
    for _ in range(count):
        end = data.index(b"\0", start)
        values.append(data[start:end].decode("utf-8", "replace"))
        start = end + 1
    return values, start


def _value(kind: int, data: bytes, offset: int, count: int) -> Any:
    if kind in (CHAR, INT8):
        return list(data[offset:offset + count])
    if kind == INT16:
        return list(struct.unpack_from(f">{count}H", data, offset))
    if kind == INT32:
        return list(struct.unpack_from(f">{count}I", data, offset))
    if kind == INT64:
        return list(struct.unpack_from(f">{count}Q", data, offset))
    if kind == STRING:
        return _strings(data, offset, 1)[0][0]
    if kind == BIN:
        return data[offset:offset + count]
    if kind in (STRING_ARRAY, I18NSTRING):
        return _strings(data, offset, count)[0]
    return None


def _read_header(blob: bytes, start: int, names: dict[int, str],
                 where: str) -> tuple[dict[str, Any], int]:
    """One header at ``start``: (tag name → value, offset just past its data store)."""
    if blob[start:start + 4] != HEADER_MAGIC:
        raise BuildError(f"{where}: not an RPM header at byte {start}")
    count, store_size = struct.unpack_from(">II", blob, start + 8)
    index_start = start + 16
    store_start = index_start + 16 * count
    store = blob[store_start:store_start + store_size]
    if len(store) != store_size:
        raise BuildError(f"{where}: truncated RPM header")
    tags: dict[str, Any] = {}
    for position in range(count):
        tag, kind, offset, items = struct.unpack_from(">IIII", blob, index_start + 16 * position)
        try:
            value = _value(kind, store, offset, items)
        except (struct.error, ValueError):
            raise BuildError(f"{where}: damaged RPM header (tag {tag})") from None
        tags[names.get(tag, f"TAG_{tag}")] = value
    return tags, store_start + store_size


def read_headers(path: Path) -> RpmHeaders:
    """Both headers of the RPM at ``path``; a BuildError names the file if it is not one."""
    path = Path(path)
    with open(path, "rb") as handle:
        # Headers are small next to payloads; 64 MiB covers any real header with room to spare.
        blob = handle.read(64 * 1024 * 1024)
    if blob[:4] != b"\xed\xab\xee\xdb":
        raise BuildError(f"{path}: not an RPM file (bad lead magic)")
    signature, end = _read_header(blob, LEAD_SIZE, SIGNATURE_TAGS, str(path))
    end += (8 - (end - LEAD_SIZE) % 8) % 8     # the signature header is padded to 8 bytes
    main, payload = _read_header(blob, end, MAIN_TAGS, str(path))
    return RpmHeaders(signature, main, payload)
