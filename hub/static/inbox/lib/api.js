// The /api/v1 JSON API: CSRF header, JSON errors as exceptions, 401 signs the page out.
let csrf = "";
let onSignedOut = () => {};

export function setSession(token, signedOut) {
  csrf = token || "";
  if (signedOut) onSignedOut = signedOut;
}

export class ApiError extends Error {
  // `details`: the rest of the error's body (a refused field's reason, the fields a resolve needs)
  constructor(message, code, status, details = {}) { super(message); this.code = code; this.status = status; this.details = details; }
}

export async function api(method, path, body, { signal } = {}) {
  const options = { method, headers: { "X-CSRF-Token": csrf }, signal };
  if (body instanceof FormData) options.body = body;
  else if (body !== undefined) { options.headers["Content-Type"] = "application/json"; options.body = JSON.stringify(body); }
  const resp = await fetch(`/api/v1${path}`, options);
  const data = await resp.json().catch(() => ({}));
  if (resp.status === 401 && path !== "/auth/login") { onSignedOut(); throw new ApiError(data.message || "signed out", "unauthorized", 401); }
  if (!resp.ok) throw new ApiError(data.message || resp.statusText, data.error, resp.status, data);
  return data;
}

// Merging or moving between two customers: the hub says who will see what; ask before doing it.
export async function withConfirmation(method, path, body) {
  try { return await api(method, path, body); } catch (e) {
    if (e.code !== "confirm_needed") throw e;
    if (!confirm(e.message)) return null;
    return api(method, path, { ...body, confirm: true });
  }
}

// Only the newest of a kind of load counts: starting one aborts the one before, and a
// result that arrives after a newer load started is dropped (views load out of order).
export function latestOnly() {
  let controller = null;
  let sequence = 0;
  return async function run(load) {
    controller?.abort();
    controller = new AbortController();
    const mine = ++sequence;
    try {
      const result = await load(controller.signal);
      return mine === sequence ? { result } : null;
    } catch (e) {
      if (e.name === "AbortError" || mine !== sequence) return null;
      throw e;
    }
  };
}
