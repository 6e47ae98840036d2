"""A video file read over HTTP whose server goes away mid-file: lost, not finished."""

from __future__ import annotations

import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from coral_serve.engine.engine import PipelineEngine
from coral_serve.schema.spec import PipelineSpec
from tests.conftest import shared_file
from tests.unit.engine.support import wait_until

_RANGE = re.compile(r"bytes=(\d+)-(\d*)")


class FileServer:
    """Serves one file with byte ranges on 127.0.0.1; `cut_at` makes it send that many bytes
    of the file and then shut down, as a server process that dies mid-transfer."""

    def __init__(self, path: Path, port: int = 0, cut_at: int | None = None) -> None:
        data = path.read_bytes()
        owner = self
        self.requests = 0

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                owner.requests += 1
                match = _RANGE.match(self.headers.get("Range") or "")
                start = int(match.group(1)) if match else 0
                end = int(match.group(2)) if match and match.group(2) else len(data) - 1
                self.send_response(206 if match else 200)
                self.send_header("Accept-Ranges", "bytes")
                self.send_header("Content-Length", str(end - start + 1))
                if match:
                    self.send_header("Content-Range", f"bytes {start}-{end}/{len(data)}")
                self.end_headers()
                stop = end + 1 if cut_at is None else min(end + 1, max(start, cut_at))
                try:
                    self.wfile.write(data[start:stop])
                except OSError:
                    return
                if stop <= end:  # broke off: go away like a dead server
                    self.close_connection = True
                    threading.Thread(target=owner.close, daemon=True).start()

            def log_message(self, *args: object) -> None:
                return

        self._httpd = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self._httpd.daemon_threads = True
        self.port = self._httpd.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/{path.name}"
        self.closed = threading.Event()
        threading.Thread(target=self._httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        if not self.closed.is_set():
            self._httpd.shutdown()
            self._httpd.server_close()
            self.closed.set()


def test_a_network_file_whose_server_dies_reconnects_and_is_read_to_its_end() -> None:
    video = shared_file("media", "vtest.mp4")
    first = FileServer(video, cut_at=video.stat().st_size // 4)
    spec = PipelineSpec.model_validate(
        {
            "name": "remote-file",
            "source": {
                "uri": first.url,
                "pacing": "unpaced",
                "reconnect": {"initial_delay": 0.1, "max_delay": 0.3},
            },
            "model": {"backend": "none"},
        }
    )
    engine = PipelineEngine(spec)
    engine.start()
    second: FileServer | None = None
    try:
        assert first.closed.wait(60)
        states: list[str] = []

        def reconnecting() -> bool:
            states.append(engine.state)
            return engine.status()["counters"]["reconnects"] >= 2

        assert wait_until(reconnecting, timeout=60), states
        assert "finished" not in states
        assert engine.state == "reconnecting"
        read_before = engine.status()["counters"]["frames_read"]

        second = FileServer(video, port=first.port)  # the server is back
        assert wait_until(lambda: engine.state == "finished", timeout=120), engine.status()
        counters = engine.status()["counters"]
        assert counters["frames_read"] >= read_before + 795  # the whole file, after the break
        assert second.requests >= 1
    finally:
        engine.stop()
        first.close()
        if second is not None:
            second.close()
