// The dashboard's only way to the server: the public HTTP API, with the bearer token when
// authentication is on. Errors come back as {error, detail}; they are thrown as ApiError.
"use strict";

class ApiError extends Error {
  constructor(status, body) {
    super(typeof body.detail === "string" ? body.detail : JSON.stringify(body.detail));
    this.status = status;
    this.body = body;
  }
}

const api = {
  token: localStorage.getItem("coral-token") || "",

  headers(extra = {}) {
    return this.token ? { ...extra, Authorization: `Bearer ${this.token}` } : extra;
  },

  async request(method, path, body) {
    const options = { method, headers: this.headers() };
    if (body !== undefined) {
      options.body = JSON.stringify(body);
      options.headers["Content-Type"] = "application/json";
    }
    const response = await fetch(path, options);
    if (response.status === 204) return null;
    const data = await response.json().catch(() => ({ error: "bad_response", detail: "" }));
    if (!response.ok) throw new ApiError(response.status, data);
    return data;
  },

  get(path) { return this.request("GET", path); },
  post(path, body) { return this.request("POST", path, body ?? {}); },
  put(path, body) { return this.request("PUT", path, body); },
  del(path) { return this.request("DELETE", path); },

  // Media elements cannot send headers: with auth on, they get a short-lived signed URL.
  async mediaUrl(path, authEnabled) {
    if (!authEnabled) return path;
    return (await this.post("/api/v1/auth/signed-url", { path })).url;
  },

  setToken(token) {
    this.token = token;
    localStorage.setItem("coral-token", token);
  },
};
