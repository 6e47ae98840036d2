"""What StreamService is built from: frame fan-out, WebRTC, MJPEG, source probes, recordings.

`errors`, `mjpeg` and `ranges` stay free of aiortc and OpenCV because the ingress
imports them; the other modules run inside StreamService replicas.
"""
