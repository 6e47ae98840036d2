// Live view: WebRTC (video + results on a data channel), falling back to MJPEG.
"use strict";

async function startWebRTC(pipelineId, video, onResults) {
  const ice = await api.get("/api/v1/streams/ice-config");
  const peer = new RTCPeerConnection({ iceServers: ice.iceServers });
  peer.addTransceiver("video", { direction: "recvonly" });
  const channel = peer.createDataChannel("results");
  channel.onmessage = (event) => onResults(JSON.parse(event.data));
  peer.ontrack = (event) => { video.srcObject = event.streams[0] || new MediaStream([event.track]); };
  await peer.setLocalDescription(await peer.createOffer());
  await new Promise((resolve) => {
    if (peer.iceGatheringState === "complete") return resolve();
    peer.onicegatheringstatechange = () => peer.iceGatheringState === "complete" && resolve();
    setTimeout(resolve, 3000);
  });
  const answer = await api.post(`/api/v1/streams/${pipelineId}/webrtc`, {
    sdp: peer.localDescription.sdp, type: "offer",
  });
  await peer.setRemoteDescription({ sdp: answer.sdp, type: answer.type });
  return {
    close() {
      peer.close();
      api.del(`/api/v1/streams/sessions/${answer.session_id}`).catch(() => {});
    },
    peer,
  };
}

async function openLiveView(container, pipelineId, authEnabled, onResults) {
  container.replaceChildren();
  if (window.RTCPeerConnection) {
    const video = Object.assign(document.createElement("video"), {
      autoplay: true, muted: true, playsInline: true,
    });
    video.id = "live-video";
    container.append(video);
    try {
      const session = await startWebRTC(pipelineId, video, onResults);
      const connected = await new Promise((resolve) => {
        const timer = setTimeout(() => resolve(false), 8000);
        video.onplaying = () => { clearTimeout(timer); resolve(true); };
      });
      if (connected) return { mode: "webrtc", close: () => session.close() };
      session.close();
    } catch (error) {
      console.warn("WebRTC failed, falling back to MJPEG", error);
    }
  }
  const img = document.createElement("img");
  img.id = "live-mjpeg";
  img.alt = "live video (MJPEG)";
  img.src = await api.mediaUrl(`/api/v1/streams/${pipelineId}/mjpeg`, authEnabled);
  container.replaceChildren(img);
  return { mode: "mjpeg", close: () => { img.src = ""; } };
}
