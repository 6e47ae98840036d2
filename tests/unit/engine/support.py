"""Helpers for the engine tests: polling, and a real MJPEG server to act as a live camera."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

__all__ = ["MjpegServer", "wait_until"]


def wait_until(predicate: Callable[[], bool], timeout: float = 10.0, step: float = 0.01) -> bool:
    """Poll until `predicate()` holds; False when `timeout` passes first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return predicate()


class MjpegServer:
    """A real HTTP MJPEG stream (multipart/x-mixed-replace) that OpenCV reads as live video."""

    def __init__(self, frames: list[bytes], fps: float, port: int = 0) -> None:
        self.frames = frames
        self.fps = fps
        self._serving = threading.Event()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "multipart/x-mixed-replace; boundary=frame")
                self.end_headers()
                index = 0
                try:
                    while server._serving.is_set():
                        jpeg = server.frames[index % len(server.frames)]
                        index += 1
                        head = f"--frame\r\nContent-Type: image/jpeg\r\nContent-Length: {len(jpeg)}"
                        self.wfile.write(head.encode() + b"\r\n\r\n" + jpeg + b"\r\n")
                        time.sleep(1 / server.fps)
                except OSError:
                    return

            def log_message(self, *args: object) -> None:
                return

        self._httpd = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self._httpd.daemon_threads = True
        self.port = self._httpd.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/stream.mjpg"
        self._serving.set()
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)
        self._thread.start()

    def close(self) -> None:
        """Stop accepting and end every open stream, as a camera going away would."""
        self._serving.clear()
        self._httpd.shutdown()
        self._httpd.server_close()
