"""A real OpenAI-compatible model server for tests and benchmarks: llama-cpp-python's
``llama_cpp.server`` with the embedded Gemma 3 270M model on 127.0.0.1, and a counting proxy
in front of it that records what the server itself said (requests, HTTP statuses, the token
usage it reported), independently of labelgraph's ledger."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from labelgraph.local import resolve_gguf


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class LlamaServer:
    """llama-cpp-python's OpenAI-compatible server with the embedded model, on 127.0.0.1."""

    def __init__(self, port: int, alias: str = "gemma") -> None:
        self.port, self.alias = port, alias
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def start(self, timeout: float = 120.0) -> LlamaServer:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "llama_cpp.server", "--model", str(resolve_gguf(None)),
             "--model_alias", self.alias, "--chat_format", "gemma", "--host", "127.0.0.1",
             "--port", str(self.port), "--n_ctx", "4096"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + timeout
        while time.time() < deadline:
            try:
                urllib.request.urlopen(f"{self.url}/models", timeout=2).read()
                return self
            except OSError:
                if self.proc.poll() is not None:
                    raise RuntimeError("the model server exited at start") from None
                time.sleep(0.5)
        raise RuntimeError(f"the model server did not answer within {timeout:.0f} s")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


class CountingProxy:
    """Forwards every request to ``upstream`` and counts what the server said: requests,
    statuses, and the token usage in its answers. A server that is down is a 502."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream.rstrip("/")
        self.statuses: Counter[int] = Counter()
        self.usage = Counter[str]()
        self.lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _forward(self, method: str) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                req = urllib.request.Request(proxy.upstream + self.path.removeprefix("/v1"),
                                             data=body or None, method=method,
                                             headers={"Content-Type": "application/json"})
                try:
                    with urllib.request.urlopen(req, timeout=600) as resp:
                        status, out = resp.status, resp.read()
                except urllib.error.HTTPError as exc:
                    status, out = exc.code, exc.read()
                except OSError as exc:
                    status, out = 502, json.dumps({"error": str(exc)}).encode()
                with proxy.lock:
                    proxy.statuses[status] += 1
                    try:
                        usage = json.loads(out).get("usage") or {}
                    except (ValueError, AttributeError):
                        usage = {}
                    for key in ("prompt_tokens", "completion_tokens"):
                        proxy.usage[key] += int(usage.get(key) or 0)
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

            def do_POST(self) -> None:  # noqa: N802 (the stdlib's name)
                self._forward("POST")

            def do_GET(self) -> None:  # noqa: N802
                self._forward("GET")

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1"
