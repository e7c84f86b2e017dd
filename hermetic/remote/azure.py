"""``azure://ACCOUNT/CONTAINER[/PREFIX]``: Azure Blob Storage through ``azure-storage-blob``.

Blob names are the store's relative paths under PREFIX. Credentials, in order: the connection
string in ``AZURE_STORAGE_CONNECTION_STRING`` (which also names the endpoint: Azurite, sovereign
clouds), else the token (a SAS token or the account key) against
``https://ACCOUNT.blob.core.windows.net``, else anonymous reads of a public container.
Blob Storage has no batched existence check, so ``missing`` asks in parallel.
"""

from __future__ import annotations

import os
import urllib.parse
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from hermetic.remote.entries import SmallFileEntries
from hermetic.remote.errors import IntegrityError, RemoteError, RemoteUnavailable
from hermetic.remote.layout import MAX_ENTRY_BYTES, object_path
from hermetic.remote.protocol import hash_path, receive_object

CONNECTION_STRING_ENV = "AZURE_STORAGE_CONNECTION_STRING"
_EXISTS_WORKERS = 16


def _sdk() -> Any:
    try:
        import azure.core.exceptions as exceptions
        from azure.storage.blob import BlobServiceClient
    except ImportError:
        raise RemoteError("azure:// remotes need the azure-storage-blob package",
                          hint="pip install 'hermetic[azure]'") from None
    return BlobServiceClient, exceptions


class AzureRemote(SmallFileEntries):
    def __init__(self, url: str, token: str | None = None) -> None:
        parsed = urllib.parse.urlsplit(url)
        parts = [p for p in parsed.path.split("/") if p]
        if parsed.scheme != "azure" or not parsed.netloc or not parts:
            raise RemoteError(f"{url}: expected azure://ACCOUNT/CONTAINER[/PREFIX]")
        self.url = url.rstrip("/")
        self._container_name = parts[0]
        self._prefix = "".join(f"{p}/" for p in parts[1:])
        service_class, self._errors = _sdk()
        options = {"retry_total": 2, "connection_timeout": 10, "read_timeout": 120}
        connection_string = os.environ.get(CONNECTION_STRING_ENV)
        if connection_string:
            service = service_class.from_connection_string(connection_string, **options)
        else:
            service = service_class(f"https://{parsed.netloc}.blob.core.windows.net",
                                    credential=token or None, **options)
        self._container = service.get_container_client(self._container_name)
        self._container_checked = False

    # -- error mapping ------------------------------------------------------------------------

    def _translate(self, exc: Exception, what: str) -> RemoteError:
        errors = self._errors
        if isinstance(exc, errors.ClientAuthenticationError):
            return RemoteError(f"{self.url}: {what}: not authorised",
                               hint="set AZURE_STORAGE_CONNECTION_STRING or give a SAS token")
        status = getattr(exc, "status_code", None)
        if isinstance(exc, errors.ServiceRequestError) or status is None or status >= 500:
            first = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
            return RemoteUnavailable(f"{self.url}: {what}: {first}")
        return RemoteError(f"{self.url}: {what}: HTTP {status} "
                           f"{getattr(exc, 'reason', '') or ''}".rstrip())

    def _blob(self, relative: str) -> Any:
        return self._container.get_blob_client(self._prefix + relative)

    def _get_small(self, relative: str) -> bytes | None:
        try:
            downloader = self._blob(relative).download_blob()
            if downloader.size > MAX_ENTRY_BYTES:
                raise IntegrityError(f"{self.url}/{relative}: larger than {MAX_ENTRY_BYTES} bytes")
            return downloader.readall()
        except self._errors.ResourceNotFoundError:
            return None
        except self._errors.AzureError as exc:
            raise self._translate(exc, f"GET {relative}") from None

    # -- the protocol -------------------------------------------------------------------------

    def missing(self, digests: Iterable[str]) -> list[str]:
        unique = list(dict.fromkeys(digests))
        if not unique:
            return []

        def absent(digest: str) -> bool:
            try:
                return not self._blob(object_path(digest)).exists()
            except self._errors.AzureError as exc:
                raise self._translate(exc, "exists") from None

        with ThreadPoolExecutor(max_workers=min(_EXISTS_WORKERS, len(unique))) as pool:
            flags = list(pool.map(absent, unique))
        return [d for d, gone in zip(unique, flags) if gone]

    def get_object(self, digest: str, dest: Path) -> int:
        relative = object_path(digest)
        try:
            downloader = self._blob(relative).download_blob(max_concurrency=4)
            return receive_object(digest, dest, downloader.chunks(), where=self.url,
                                  expected_size=downloader.size)
        except self._errors.ResourceNotFoundError:
            raise IntegrityError(f"{self.url}: object {digest[:16]}… is missing") from None
        except self._errors.AzureError as exc:
            raise self._translate(exc, f"GET {relative}") from None

    def _ensure_container(self) -> None:
        if self._container_checked:
            return
        try:
            self._container.create_container()
        except self._errors.ResourceExistsError:
            pass
        except self._errors.AzureError as exc:
            raise self._translate(exc, f"create container {self._container_name}") from None
        self._container_checked = True

    def put_object(self, digest: str, path: Path) -> bool:
        actual, size = hash_path(path)
        if actual != digest:
            raise IntegrityError(f"local object {digest[:16]}… hashes to {actual[:16]}…; "
                                 "run `hermetic store verify`")
        self._ensure_container()
        relative = object_path(digest)
        try:
            with open(path, "rb") as stream:
                # overwrite=False sends If-None-Match: *, so the service itself makes the upload
                # put-if-absent and concurrent identical uploads cannot clobber each other.
                self._blob(relative).upload_blob(stream, length=size, overwrite=False,
                                                 max_concurrency=4)
            return True
        except self._errors.ResourceExistsError:
            return False
        except self._errors.AzureError as exc:
            raise self._translate(exc, f"PUT {relative}") from None

    def _put_small(self, relative: str, data: bytes) -> None:
        self._ensure_container()
        try:
            self._blob(relative).upload_blob(data, overwrite=True)
        except self._errors.AzureError as exc:
            raise self._translate(exc, f"PUT {relative}") from None

    def info(self) -> dict[str, Any]:
        result: dict[str, Any] = {"url": self.url, "transport": "azure",
                                  "container": self._container_name}
        try:
            properties = self._container.get_container_properties()
        except self._errors.ResourceNotFoundError:
            return {**result, "reachable": True, "exists": False}
        except self._errors.AzureError as exc:
            return {**result, "reachable": False, "error": str(self._translate(exc, "info"))}
        return {**result, "reachable": True, "exists": True,
                "last_modified": str(properties.last_modified)}

    def close(self) -> None:
        self._container.close()
