"""Starts the real gateway for the tests: ``node dist/cli.js serve --config FILE`` from the repository root,
with the ``demo`` backend, two static keys, the response cache and an admin token. Needs ``npm run build``
first (``npm test`` does it)."""

from __future__ import annotations

import hashlib
import json
import os
import queue
import secrets
import shutil
import string
import subprocess
import tempfile
import threading
from pathlib import Path
from typing import Any, Dict, List, Optional

PACKAGE_ROOT = Path(__file__).resolve().parent.parent  # clients/python
REPO_ROOT = PACKAGE_ROOT.parent.parent
CLI = REPO_ROOT / "dist" / "cli.js"

#: The gateway's own environment variables: none leaks from the caller into the child.
GATEWAY_VARIABLES = (
    "GATEWAY_CONFIG",
    "HOST",
    "PORT",
    "REDIS_URL",
    "LOG_LEVEL",
    "GATEWAY_ADMIN_TOKEN",
    "OLLAMA_URL",
    "METRICS_TOKEN",
    "OTEL_EXPORTER_OTLP_ENDPOINT",
    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
)

#: Seconds the gateway may take to start (a loaded 2-CPU machine can take several).
START_TIMEOUT = 60.0


def new_key() -> str:
    """A key in the gateway's format: sk-gw- and 40 base62 characters."""
    alphabet = string.ascii_letters + string.digits
    return "sk-gw-" + "".join(secrets.choice(alphabet) for _ in range(40))


def sha256_hex(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _yaml_string(text: str) -> str:
    # A JSON string is a valid YAML double-quoted scalar.
    return json.dumps(text)


class GatewayProcess:
    """One gateway process. ``url``, ``key`` (a static key with a generous limit), ``limited_key`` (a
    static key limited to 1 request per second), ``admin_token``; ``lines`` holds its stdout."""

    def __init__(self) -> None:
        self.key = new_key()
        self.limited_key = new_key()
        self.key_id = "py-client"
        self.limited_key_id = "py-limited"
        self.admin_token = "admin-" + secrets.token_hex(16)
        self.directory = tempfile.mkdtemp(prefix="gw-python-client-")
        self.lines: List[str] = []
        self.stderr: List[str] = []
        self.url = ""
        self._process: Optional[subprocess.Popen[bytes]] = None
        self._listening: queue.Queue[str] = queue.Queue()
        self._threads: List[threading.Thread] = []

    def config(self) -> str:
        state_dir = os.path.join(self.directory, "state")
        return "\n".join(
            [
                "server:",
                "  host: 127.0.0.1",
                "  port: 0",
                f"  state_dir: {_yaml_string(state_dir)}",
                "backends:",
                "  - { name: demo, type: demo }",
                "models:",
                "  - { name: demo, targets: [{ backend: demo }] }",
                "auth:",
                "  keys:",
                f"    - {{ id: {self.key_id}, sha256: {sha256_hex(self.key)} }}",
                f"    - {{ id: {self.limited_key_id}, sha256: {sha256_hex(self.limited_key)},"
                " rate_limit: { requests: 1/second } }",
                "rate_limit:",
                "  default: { requests: 1000/minute }",
                "cache:",
                "  enabled: true",
                "  ttl_seconds: 600",
                "",
            ]
        )

    def environment(self) -> Dict[str, str]:
        env = {name: value for name, value in os.environ.items() if name not in GATEWAY_VARIABLES}
        env["LOG_LEVEL"] = "info"  # the 'listening' line is an info log
        env["GATEWAY_ADMIN_TOKEN"] = self.admin_token
        return env

    def start(self) -> str:
        if not CLI.exists():
            raise RuntimeError(f"{CLI} is missing: run `npm run build` in {REPO_ROOT} first")
        node = os.environ.get("AI_GATEWAY_NODE") or shutil.which("node")
        if node is None:
            raise RuntimeError("node is not on the PATH (set AI_GATEWAY_NODE to its path)")
        config_path = os.path.join(self.directory, "gateway.yaml")
        with open(config_path, "w", encoding="utf-8") as file:
            file.write(self.config())
        self._process = subprocess.Popen(
            [node, str(CLI), "serve", "--config", config_path],
            cwd=str(REPO_ROOT),
            env=self.environment(),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        self._threads = [
            threading.Thread(target=self._read_stdout, daemon=True),
            threading.Thread(target=self._read_stderr, daemon=True),
        ]
        for thread in self._threads:
            thread.start()
        try:
            url = self._listening.get(timeout=START_TIMEOUT)
        except queue.Empty:
            url = ""
        if not url:
            state = "running" if self._process.poll() is None else f"exited {self._process.returncode}"
            self.stop()
            raise RuntimeError(
                f"the gateway did not log 'listening' within {START_TIMEOUT:.0f} s ({state})"
                f"\nstdout:\n{os.linesep.join(self.lines)}\nstderr:\n{''.join(self.stderr)}"
            )
        self.url = url
        return url

    def _read_stdout(self) -> None:
        assert self._process is not None and self._process.stdout is not None
        for raw in self._process.stdout:
            line = raw.decode("utf-8", "replace").rstrip("\n")
            self.lines.append(line)
            if not self.url and line.startswith("{"):
                try:
                    entry: Any = json.loads(line)
                except ValueError:
                    continue
                if isinstance(entry, dict) and entry.get("msg") == "listening":
                    self._listening.put(str(entry.get("url")))
        self._listening.put("")  # the process ended

    def _read_stderr(self) -> None:
        assert self._process is not None and self._process.stderr is not None
        for raw in self._process.stderr:
            self.stderr.append(raw.decode("utf-8", "replace"))

    def logs(self) -> List[Dict[str, Any]]:
        """The JSON log lines so far."""
        out: List[Dict[str, Any]] = []
        for line in list(self.lines):
            if line.startswith("{"):
                try:
                    entry = json.loads(line)
                except ValueError:
                    continue
                if isinstance(entry, dict):
                    out.append(entry)
        return out

    def stop(self) -> Optional[int]:
        """SIGTERM, then SIGKILL if the graceful shutdown hangs; removes the temporary directory."""
        code: Optional[int] = None
        process = self._process
        if process is not None:
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait(timeout=5)
            code = process.returncode
            for thread in self._threads:
                thread.join(timeout=5)
            for stream in (process.stdout, process.stderr):
                if stream is not None:
                    stream.close()
            self._process = None
        shutil.rmtree(self.directory, ignore_errors=True)
        return code
