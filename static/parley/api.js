// The time-stop REST API (interaction/api.py), with the page's session cookie and CSRF token.

export class ApiError extends Error {
  constructor(status, body) {
    super(ApiError.describe(status, body));
    Object.assign(this, { status, body });
  }

  static describe(status, body) {
    if (body && typeof body.detail === "string") return body.detail;
    if (body && typeof body === "object") {
      const first = Object.entries(body)[0];
      if (first) return `${first[0]}: ${[].concat(first[1]).join(" ")}`;
    }
    return `The server answered ${status}.`;
  }
}

export class Api {
  constructor({ urls, placeholder, csrfToken }) {
    Object.assign(this, { urls, placeholder, csrfToken });
  }

  createSession(scenario) {
    return this.request(this.urls.sessions, { json: { scenario, mode: "time_stop" } });
  }

  getSession(sessionId) {
    return this.request(`${this.urls.sessions}${sessionId}/`, { method: "GET" });
  }

  answerTyped(sessionId, transcript) {
    return this.request(this.attemptsUrl(sessionId), { json: { transcript } });
  }

  answerSpoken(sessionId, audio) {
    const form = new FormData();
    const extension = audio.type.includes("webm") ? "webm" : "wav";
    form.append("audio", audio, `answer.${extension}`);
    return this.request(this.attemptsUrl(sessionId), { body: form });
  }

  attemptsUrl(sessionId) {
    return this.urls.attempts.replace(this.placeholder, sessionId);
  }

  async request(url, { method = "POST", json, body } = {}) {
    const headers = { Accept: "application/json", "X-CSRFToken": this.csrfToken };
    if (json !== undefined) {
      headers["Content-Type"] = "application/json";
      body = JSON.stringify(json);
    }
    const response = await fetch(url, { method, headers, body, credentials: "same-origin" });
    const data = await response.json().catch(() => null);
    if (!response.ok) throw new ApiError(response.status, data);
    return data;
  }
}
