// The dashboard's only way to the server: the public HTTP API, with the session's bearer
// token when authentication is on. Every failure is thrown as an ApiError whose message is
// the server's `detail`, so whatever shows it tells the user what was wrong.

const TOKEN_KEY = "coral-token";
let token = sessionStorage.getItem(TOKEN_KEY) || "";
const tokenListeners = new Set();
const unauthorizedListeners = new Set();

export class ApiError extends Error {
  constructor(status, body) {
    super(describe(body.detail) || body.error || `HTTP ${status}`);
    this.status = status;
    this.body = body;
  }
}

// A 422's detail is a list of {field, message}; anything else is a sentence.
function describe(detail) {
  if (Array.isArray(detail)) return detail.map((d) => (d.field ? `${d.field}: ${d.message}` : d.message ?? JSON.stringify(d))).join(" · ");
  return typeof detail === "string" ? detail : detail === undefined ? "" : JSON.stringify(detail);
}

export function authHeaders(extra = {}) {
  return token ? { ...extra, Authorization: `Bearer ${token}` } : extra;
}

// Kept per browser tab (sessionStorage), never across sessions.
export function setToken(value) {
  token = value;
  sessionStorage.setItem(TOKEN_KEY, value);
  tokenListeners.forEach((fn) => fn());
}
export const onTokenChange = (fn) => { tokenListeners.add(fn); return () => tokenListeners.delete(fn); };
export const onUnauthorized = (fn) => { unauthorizedListeners.add(fn); return () => unauthorizedListeners.delete(fn); };
export const unauthorized = (body) => unauthorizedListeners.forEach((fn) => fn(body));

export async function request(method, path, { body, signal, headers = {}, contentType = "application/json" } = {}) {
  const options = { method, headers: authHeaders(headers), signal };
  if (body !== undefined) {
    options.body = JSON.stringify(body);
    options.headers["Content-Type"] = contentType;
  }
  let response;
  try {
    response = await fetch(path, options);
  } catch (error) {
    if (error.name === "AbortError") throw error;
    throw new ApiError(0, { error: "unreachable", detail: `the server cannot be reached (${error.message})` });
  }
  if (response.status === 204) return null;
  const data = await response.json().catch(() => ({ error: "bad_response", detail: `HTTP ${response.status}, not JSON` }));
  if (!response.ok) {
    if (response.status === 401) unauthorized(data);
    throw new ApiError(response.status, data);
  }
  return data;
}

export const api = {
  get: (path, signal) => request("GET", path, { signal }),
  post: (path, body, signal) => request("POST", path, { body: body ?? {}, signal }),
  patch: (path, body, etag) => request("PATCH", path, {
    body, contentType: "application/merge-patch+json", headers: etag ? { "If-Match": etag } : {},
  }),
  del: (path) => request("DELETE", path),

  // Media elements cannot send headers: with auth on, they get a short-lived signed URL.
  async mediaUrl(path, authEnabled) {
    if (!authEnabled) return path;
    return (await this.post("/api/v1/auth/signed-url", { path })).url;
  },

  // A picture fetched with the token, as an object URL (the caller revokes it).
  async blobUrl(path, signal) {
    const response = await fetch(path, { headers: authHeaders(), signal });
    if (!response.ok) throw new ApiError(response.status, await response.json().catch(() => ({})));
    return URL.createObjectURL(await response.blob());
  },
};
