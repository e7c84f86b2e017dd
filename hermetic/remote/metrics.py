"""Prometheus counters of ``hermetic serve`` (text exposition format 0.0.4), thread-safe."""

from __future__ import annotations

import threading
from collections import Counter


class Metrics:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.requests: Counter[tuple[str, int]] = Counter()
        self.rejected: Counter[str] = Counter()
        self.bytes_sent = 0
        self.bytes_received = 0
        self.objects_stored = 0
        self.entries_stored = 0

    def request(self, method: str, status: int, sent: int = 0, received: int = 0) -> None:
        with self._lock:
            self.requests[(method, status)] += 1
            self.bytes_sent += sent
            self.bytes_received += received

    def reject(self, reason: str) -> None:
        with self._lock:
            self.rejected[reason] += 1

    def stored(self, kind: str) -> None:
        with self._lock:
            if kind == "object":
                self.objects_stored += 1
            else:
                self.entries_stored += 1

    def render(self) -> str:
        with self._lock:
            lines = [
                "# HELP hermetic_http_requests_total HTTP requests answered, by method and status.",
                "# TYPE hermetic_http_requests_total counter",
            ]
            for (method, status), count in sorted(self.requests.items()):
                lines.append(f'hermetic_http_requests_total{{method="{method}",code="{status}"}} '
                             f"{count}")
            errors = {"client": 0, "server": 0}
            for (_, status), count in self.requests.items():
                if 400 <= status < 500:
                    errors["client"] += count
                elif status >= 500:
                    errors["server"] += count
            lines += ["# HELP hermetic_http_errors_total Requests answered with an error status.",
                      "# TYPE hermetic_http_errors_total counter"]
            lines += [f'hermetic_http_errors_total{{kind="{k}"}} {v}' for k, v in errors.items()]
            lines += ["# HELP hermetic_http_sent_bytes_total Body bytes sent.",
                      "# TYPE hermetic_http_sent_bytes_total counter",
                      f"hermetic_http_sent_bytes_total {self.bytes_sent}",
                      "# HELP hermetic_http_received_bytes_total Body bytes received.",
                      "# TYPE hermetic_http_received_bytes_total counter",
                      f"hermetic_http_received_bytes_total {self.bytes_received}",
                      "# HELP hermetic_uploads_rejected_total Uploads refused, by reason.",
                      "# TYPE hermetic_uploads_rejected_total counter"]
            lines += [f'hermetic_uploads_rejected_total{{reason="{r}"}} {c}'
                      for r, c in sorted(self.rejected.items())]
            lines += ["# HELP hermetic_stored_total Objects and entries stored by uploads.",
                      "# TYPE hermetic_stored_total counter",
                      f'hermetic_stored_total{{kind="object"}} {self.objects_stored}',
                      f'hermetic_stored_total{{kind="entry"}} {self.entries_stored}']
        return "\n".join(lines) + "\n"
