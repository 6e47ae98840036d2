// Live view: WebRTC (video + results on a data channel), falling back to MJPEG. Whatever
// is opened here is closed when `signal` aborts (the user left), even mid-set-up: each
// resource registers its closing as soon as it exists, before the next await.
import { api } from "./api.js";

function onAbort(signal, fn) {
  if (signal.aborted) fn();
  else signal.addEventListener("abort", fn, { once: true });
}

async function startWebRTC(pipelineId, video, onResults, view, signal) {
  const ice = await api.get("/api/v1/streams/ice-config", signal);
  const peer = new RTCPeerConnection({ iceServers: ice.iceServers });
  let session = null;
  // The server keeps a session until it is deleted or its peer goes away: say goodbye
  // first (a peer closed first may end it already, and the DELETE would find nothing).
  const close = () => (session ? api.del(session).catch(() => {}).finally(() => peer.close()) : peer.close());
  onAbort(signal, close);
  peer.addTransceiver("video", { direction: "recvonly" });
  const channel = peer.createDataChannel("results");
  channel.onmessage = (event) => onResults(JSON.parse(event.data));
  peer.ontrack = (event) => { video.srcObject = event.streams[0] || new MediaStream([event.track]); };
  await peer.setLocalDescription(await peer.createOffer());
  await new Promise((resolve) => {
    if (peer.iceGatheringState === "complete") return resolve();
    peer.onicegatheringstatechange = () => peer.iceGatheringState === "complete" && resolve();
    setTimeout(resolve, 3000);
    onAbort(signal, resolve);
  });
  if (signal.aborted) return;
  // Not aborted mid-flight: once the server has made a session we must know its id to end it.
  const answer = await api.post(`/api/v1/streams/${pipelineId}/webrtc`, {
    sdp: peer.localDescription.sdp, type: "offer", view,
  });
  session = `/api/v1/streams/sessions/${answer.session_id}`;
  if (signal.aborted) return close();
  await peer.setRemoteDescription({ sdp: answer.sdp, type: answer.type });
}

function videoPlaying(video, ms, signal) {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    video.addEventListener("playing", () => { clearTimeout(timer); resolve(true); }, { once: true });
    onAbort(signal, () => { clearTimeout(timer); resolve(false); });
  });
}

// Resolves to how the video arrives: {mode: "webrtc"} or {mode: "mjpeg", url, reason}; the
// caller shows the MJPEG URL in an <img>. {mode: "closed"} when the user left first.
// `view`: "annotated" or "raw" (WebRTC only: MJPEG is always the annotated picture).
export async function openLiveView({ pipelineId, video, authEnabled, onResults, view = "annotated", signal }) {
  let reason = "this browser has no WebRTC";
  if (window.RTCPeerConnection) {
    const attempt = new AbortController();  // aborting it ends only the WebRTC attempt
    onAbort(signal, () => attempt.abort());
    try {
      await startWebRTC(pipelineId, video, onResults, view, attempt.signal);
      if (await videoPlaying(video, 8000, attempt.signal)) return { mode: "webrtc" };
      reason = "no video within 8 s";
    } catch (error) {
      reason = error.message;
    }
    attempt.abort();
  }
  if (signal.aborted) return { mode: "closed" };
  const url = await api.mediaUrl(`/api/v1/streams/${pipelineId}/mjpeg`, authEnabled);
  return { mode: "mjpeg", url, reason };
}
