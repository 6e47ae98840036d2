// Live view: WebRTC (video + results on a data channel), falling back to MJPEG. Everything
// opened here is closed through `page.onCleanup`, at once if the user has already left.
"use strict";

async function startWebRTC(pipelineId, video, onResults, page) {
  const ice = await api.get("/api/v1/streams/ice-config");
  const peer = new RTCPeerConnection({ iceServers: ice.iceServers });
  page.onCleanup(() => peer.close());
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
  const session = `/api/v1/streams/sessions/${answer.session_id}`;
  // The server keeps a session until it is deleted or its peer goes away: say goodbye.
  page.onCleanup(() => api.del(session).catch((error) => toast(`Closing the live session failed: ${error.message}`)));
  if (page.closed) return;
  await peer.setRemoteDescription({ sdp: answer.sdp, type: answer.type });
}

function videoPlaying(video, ms) {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    video.onplaying = () => { clearTimeout(timer); resolve(true); };
  });
}

// Resolves to how the video arrives: {mode: "webrtc"} or {mode: "mjpeg", reason}.
async function openLiveView(container, page, pipelineId, authEnabled, onResults) {
  container.replaceChildren();
  let reason = "this browser has no WebRTC";
  if (window.RTCPeerConnection) {
    const video = Object.assign(document.createElement("video"), {
      autoplay: true, muted: true, playsInline: true,
    });
    video.id = "live-video";
    container.append(video);
    const attempt = newPage(null);  // closing it ends only the WebRTC attempt
    page.onCleanup(() => attempt.close());
    try {
      await startWebRTC(pipelineId, video, onResults, attempt);
      if (await videoPlaying(video, 8000)) return { mode: "webrtc" };
      reason = "no video within 8 s";
    } catch (error) {
      reason = error.message;
    }
    attempt.close();
  }
  if (page.closed) return { mode: "closed" };
  const img = document.createElement("img");
  img.id = "live-mjpeg";
  img.alt = "live video (MJPEG)";
  img.src = await api.mediaUrl(`/api/v1/streams/${pipelineId}/mjpeg`, authEnabled);
  page.onCleanup(() => { img.src = ""; });
  container.replaceChildren(img);
  return { mode: "mjpeg", reason };
}
