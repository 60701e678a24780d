"""Real, throwaway Redis servers on 127.0.0.1 for tests and benchmarks, from ``redis-server``.

>>> with RedisServer.started() as server:          # doctest: +SKIP
...     store = open_store(server.url)

``RedisServer`` is one server (no persistence, its files in a temporary directory) that a test
can stop, restart on the same port, pause (SIGSTOP) and resume; ``RedisCluster`` is three
such servers joined by ``redis-cli --cluster create``; ``RedisSentinel`` watches a server.
Nothing here needs redis-py: readiness is checked with raw RESP over a socket.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

__all__ = ["DEADLINE", "RedisCluster", "RedisSentinel", "RedisServer", "command", "free_port"]

DEADLINE = 60.0  # seconds: a loaded 2-core machine can be slow to start or join servers


def free_port(*, bus: bool = False) -> int:
    """A loopback port free now (and, with ``bus``, port + 10000 too: the cluster bus)."""
    while True:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = int(s.getsockname()[1])
        if not bus:
            return port
        if port + 10000 < 65536:
            with socket.socket() as s:
                try:
                    s.bind(("127.0.0.1", port + 10000))
                except OSError:
                    continue
            return port


def command(port: int, *words: str, timeout: float = 5.0) -> str:
    """Send one command over raw RESP and return the first reply line (or a bulk string)."""
    payload = f"*{len(words)}\r\n" + "".join(f"${len(w)}\r\n{w}\r\n" for w in words)
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(payload.encode())
        data = b""
        while not data.endswith(b"\r\n") or (data.startswith(b"$") and data.count(b"\r\n") < 2):
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    text = data.decode("utf-8", "replace")
    return text.split("\r\n", 1)[1] if text.startswith("$") else text.strip()


def _wait(check: str, ready: Callable[[], bool], deadline: float = DEADLINE) -> None:
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        try:
            if ready():
                return
        except OSError:
            pass
        time.sleep(0.05)
    raise TimeoutError(f"redis test server: {check} not ready after {deadline:.0f} s")


class RedisServer:
    """One ``redis-server`` on 127.0.0.1:``port``, no persistence, files under ``directory``."""

    def __init__(
        self, directory: Path, *, port: int | None = None, args: Sequence[str] = ()
    ) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise FileNotFoundError(
                "redis-server not on PATH (Debian: apt-get install redis-server)"
            )
        self.binary = binary
        self.directory = directory
        self.port = port or free_port(bus="--cluster-enabled" in args)
        self.args = tuple(args)
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        """Start (or restart, on the same port) and wait until it answers PING."""
        argv = [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                "--appendonly", "no", "--dir", str(self.directory), *self.args]  # fmt: skip
        log = open(self.directory / f"redis-{self.port}.log", "ab")  # noqa: SIM115
        self.process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)  # noqa: S603
        log.close()
        _wait(f"port {self.port}", lambda: command(self.port, "PING") == "+PONG")
        return self

    def stop(self) -> None:
        """Stop the server (resuming it first if paused) and wait for it to exit."""
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGCONT)
        process.terminate()
        try:
            process.wait(DEADLINE)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def pause(self) -> None:
        """SIGSTOP: the server keeps its port open but answers nothing (a stalled server)."""
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGSTOP)

    def resume(self) -> None:
        """SIGCONT after ``pause``."""
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGCONT)

    @classmethod
    @contextmanager
    def started(cls, *, args: Sequence[str] = ()) -> Iterator[RedisServer]:
        """A started server in a fresh temporary directory, stopped on exit."""
        with tempfile.TemporaryDirectory(prefix="geofence-redis-") as tmp:
            server = cls(Path(tmp), args=args).start()
            try:
                yield server
            finally:
                server.stop()


class RedisCluster:
    """Three cluster-enabled servers, every hash slot assigned, no replicas."""

    def __init__(self, directory: Path, nodes: int = 3) -> None:
        args = ("--cluster-enabled", "yes", "--cluster-node-timeout", "5000")
        self.nodes = [RedisServer(directory, args=args) for _ in range(nodes)]
        for node in self.nodes:
            node.args = (*args, "--cluster-config-file", f"nodes-{node.port}.conf")

    @property
    def url(self) -> str:
        return "redis+cluster://" + ",".join(f"127.0.0.1:{n.port}" for n in self.nodes)

    def start(self) -> RedisCluster:
        for node in self.nodes:
            node.start()
        cli = shutil.which("redis-cli")
        if cli is None:
            raise FileNotFoundError("redis-cli not on PATH (Debian: apt-get install redis-tools)")
        addresses = [f"127.0.0.1:{n.port}" for n in self.nodes]
        subprocess.run(  # noqa: S603 (argv: the redis-cli found on PATH, our ports)
            [cli, "--cluster", "create", *addresses, "--cluster-replicas", "0", "--cluster-yes"],
            check=True, capture_output=True, timeout=DEADLINE,
        )  # fmt: skip
        for node in self.nodes:
            _wait(f"cluster node {node.port}", _cluster_ok(node.port))
        return self

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()

    @classmethod
    @contextmanager
    def started(cls) -> Iterator[RedisCluster]:
        """A started cluster in a fresh temporary directory, stopped on exit."""
        with tempfile.TemporaryDirectory(prefix="geofence-redis-cluster-") as tmp:
            cluster = cls(Path(tmp))
            try:
                yield cluster.start()
            finally:
                cluster.stop()


def _cluster_ok(port: int) -> Callable[[], bool]:
    return lambda: "cluster_state:ok" in command(port, "CLUSTER", "INFO")


class RedisSentinel:
    """A Sentinel (``redis-server --sentinel``) watching ``server`` as ``service``."""

    def __init__(self, server: RedisServer, service: str = "geofence") -> None:
        self.server = server
        self.service = service
        config = server.directory / f"sentinel-{server.port}.conf"
        config.write_text(
            f"sentinel monitor {service} 127.0.0.1 {server.port} 1\n"
            f"sentinel down-after-milliseconds {service} 5000\n"
        )
        self.sentinel = RedisServer(server.directory, args=("--sentinel",))
        self.config = config

    @property
    def url(self) -> str:
        return f"redis+sentinel://127.0.0.1:{self.sentinel.port}/{self.service}/0"

    def start(self) -> RedisSentinel:
        argv = [self.sentinel.binary, str(self.config), "--port", str(self.sentinel.port),
                "--bind", "127.0.0.1", "--sentinel"]  # fmt: skip
        log = open(self.server.directory / "sentinel.log", "ab")  # noqa: SIM115
        self.sentinel.process = subprocess.Popen(  # noqa: S603
            argv, stdout=log, stderr=subprocess.STDOUT
        )
        log.close()
        port = self.sentinel.port
        _wait(
            f"sentinel {port}",
            lambda: (
                str(self.server.port)
                in command(port, "SENTINEL", "GET-MASTER-ADDR-BY-NAME", self.service)
            ),
        )
        return self

    def stop(self) -> None:
        self.sentinel.stop()
