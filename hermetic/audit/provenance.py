"""in-toto Statement v1 with a SLSA Provenance v1 predicate, signed as a DSSE envelope.

Computed on demand from a stored action entry: the entry's input manifest already names every
input by digest (spec, sources, patches, options file, buildroot, sandbox profile, toolchain
settings, dependency RPMs), and its outputs name every RPM. Nothing extra has to be recorded
at build time, and the same entry always gives the same statement (and, Ed25519 being
deterministic, the same signature). See docs/audit.md for the format.
"""

from __future__ import annotations

import base64
import datetime
import json
from pathlib import Path
from typing import Any

from hermetic.hashing import hash_file

STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
PREDICATE_TYPE = "https://slsa.dev/provenance/v1"
BUILD_TYPE = "https://hermetic.invalid/buildtypes/rpmbuild-sandbox/v1"
BUILDER_ID = "https://hermetic.invalid/builder/local"
PAYLOAD_TYPE = "application/vnd.in-toto+json"


def _timestamp(seconds: int) -> str:
    return datetime.datetime.fromtimestamp(seconds, datetime.timezone.utc) \
        .strftime("%Y-%m-%dT%H:%M:%SZ")


def _resolved_dependencies(manifest: dict[str, Any]) -> list[dict[str, Any]]:
    spec = manifest.get("spec") or {}
    found = []
    if spec.get("digest"):
        found.append({"name": f"spec:{spec.get('name')}", "digest": {"blake3": spec["digest"]}})
    for name, digest in sorted((manifest.get("files") or {}).items()):
        found.append({"name": f"source:{name}", "digest": {"blake3": digest}})
    if manifest.get("buildroot"):
        found.append({"name": "buildroot", "digest": {"blake3": manifest["buildroot"]},
                      "annotations": {"what": "blake3 tree digest of the buildroot"}})
    for component, rpms in sorted((manifest.get("dependencies") or {}).items()):
        for rpm_name, digest in rpms:
            found.append({"name": f"dependency:{component}/{rpm_name}",
                          "digest": {"blake3": digest}})
    return found


def provenance_for(entry: Any, prepared_component: Any = None, store: Any = None
                   ) -> dict[str, Any]:
    """The in-toto statement for ``entry`` (an ActionEntry).

    ``store`` (optional) adds sha256 digests of the outputs next to blake3 (what most in-toto
    tools check); ``prepared_component`` (optional) adds the component's spec NEVR facts.
    """
    from hermetic import __version__
    from hermetic.canonical import digest as canonical_digest

    manifest = entry.manifest or {}
    subjects = []
    byproducts = []
    for output in sorted(entry.outputs, key=lambda o: o.name):
        digests = {"blake3": output.digest}
        if store is not None and store.objects.has(output.digest):
            digests["sha256"] = hash_file(store.objects.path(output.digest), ["sha256"])["sha256"]
        record = {"name": output.name, "digest": digests}
        if output.kind in ("rpm", "srpm"):
            subjects.append(record)
        else:
            byproducts.append({**record, "annotations": {"kind": output.kind}})
    external = {"component": entry.component, "arch": manifest.get("arch"),
                "model": manifest.get("model")}
    if prepared_component is not None:
        external["spec_name"] = prepared_component.spec_name
        external["upstream_commit"] = getattr(prepared_component, "upstream_commit", None)
    return {
        "_type": STATEMENT_TYPE,
        "subject": subjects,
        "predicateType": PREDICATE_TYPE,
        "predicate": {
            "buildDefinition": {
                "buildType": BUILD_TYPE,
                "externalParameters": external,
                "internalParameters": {
                    "sandboxProfile": manifest.get("sandbox_profile"),
                    "toolchain": manifest.get("toolchain"),
                    "keySchema": manifest.get("schema"),
                    "impure": bool(entry.impure),
                },
                "resolvedDependencies": _resolved_dependencies(manifest),
            },
            "runDetails": {
                "builder": {
                    "id": BUILDER_ID,
                    "version": {"hermetic": __version__, "rpm": entry.rpm_version or None},
                },
                "metadata": {
                    "invocationId": entry.key,
                    "finishedOn": _timestamp(entry.created) if entry.created else None,
                    "inputManifestDigest": canonical_digest(manifest),
                },
                "byproducts": byproducts,
            },
        },
    }


def pae(payload_type: str, payload: bytes) -> bytes:
    """DSSE's pre-authentication encoding: what the signature covers."""
    kind = payload_type.encode()
    return b"DSSEv1 %d %s %d %s" % (len(kind), kind, len(payload), payload)


def statement_bytes(statement: dict[str, Any]) -> bytes:
    return json.dumps(statement, sort_keys=True, separators=(",", ":")).encode()


def sign_statement(statement: dict[str, Any], secret: Any) -> dict[str, Any]:
    """A DSSE envelope around ``statement`` signed with ``secret`` (a signing.SecretKey)."""
    payload = statement_bytes(statement)
    signature = secret.key.sign(pae(PAYLOAD_TYPE, payload))
    return {"payloadType": PAYLOAD_TYPE,
            "payload": base64.b64encode(payload).decode(),
            "signatures": [{"keyid": secret.public().text(),
                            "sig": base64.b64encode(signature).decode()}]}


def verify_envelope(envelope: dict[str, Any], public_key: Any) -> dict[str, Any] | None:
    """The statement if one signature is by ``public_key`` (a signing.PublicKey), else None."""
    from cryptography.exceptions import InvalidSignature

    try:
        payload = base64.b64decode(envelope["payload"])
        for signature in envelope.get("signatures", []):
            try:
                public_key.key.verify(base64.b64decode(signature["sig"]),
                                      pae(envelope["payloadType"], payload))
            except InvalidSignature:
                continue
            return json.loads(payload)
    except (KeyError, ValueError, TypeError):
        return None
    return None


def write_provenance(store: Any, entry: Any, directory: Path | None = None) -> Path:
    """Write the signed envelope of ``entry`` to ``<store>/provenance/<key>.intoto.json``
    (or ``directory``), temp + fsync + rename; returns the file's path."""
    from hermetic.store.fsutil import atomic_write

    envelope = sign_statement(provenance_for(entry, store=store), store.local_secret_key())
    target_dir = Path(directory) if directory is not None else store.root / "provenance"
    target_dir.mkdir(parents=True, exist_ok=True)
    path = target_dir / f"{entry.key}.intoto.json"
    atomic_write(path, json.dumps(envelope, indent=2, sort_keys=True).encode() + b"\n",
                 target_dir, mode=0o644)
    return path
