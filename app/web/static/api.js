// Calls to the Citestream API, with its problem+json errors turned into sentences for people.

export class ApiError extends Error {
  constructor(status, code, message, retryAfter = null) {
    super(message);
    this.status = status;
    this.code = code;
    this.retryAfter = retryAfter;
  }
}

const unauthenticatedListeners = [];

// Called whenever the server answers 401: the page then asks for a key.
export function onUnauthenticated(listener) {
  unauthenticatedListeners.push(listener);
}

export function unreachable() {
  return new ApiError(0, "unreachable", "Cannot reach the server. Check that it is running.");
}

// A sentence for a refused request, from its status and problem+json body.
export function explain(status, problem, retryAfter) {
  const detail = problem && typeof problem.detail === "string" ? problem.detail : "";
  if (status === 409 && problem?.code === "conflict" && !detail.includes("document")) {
    return "This conversation is still answering a question. Wait for it, or stop it first.";
  }
  if (status === 429) {
    const wait = retryAfter ? ` in ${retryAfter} s` : " in a moment";
    return `Too many requests; try again${wait}.${detail ? ` (${detail})` : ""}`;
  }
  if (status === 503 && retryAfter) return `${detail || "The server is busy."} Try again in ${retryAfter} s.`;
  if (status === 401) return "Sign in with an API key to continue.";
  return detail || `The server answered ${status}.`;
}

// Turns a non-2xx response into an ApiError (and tells listeners about a 401).
export async function failure(response) {
  let problem = null;
  try {
    problem = await response.json();
  } catch {
    problem = null;
  }
  const retryAfter = response.headers.get("Retry-After");
  if (response.status === 401) unauthenticatedListeners.forEach((listener) => listener());
  return new ApiError(
    response.status,
    problem?.code ?? "http_error",
    explain(response.status, problem, retryAfter),
    retryAfter,
  );
}

// fetch with the page's defaults; throws ApiError on failure, returns the Response otherwise.
export async function send(method, path, { json, headers = {}, signal } = {}) {
  const init = { method, headers: { Accept: "application/json", ...headers }, signal };
  if (json !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(json);
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch (error) {
    if (error.name === "AbortError") throw error;
    throw unreachable();
  }
  if (!response.ok) throw await failure(response);
  return response;
}

// The parsed JSON body of a successful call (null for 204).
export async function call(method, path, options) {
  const response = await send(method, path, options);
  return response.status === 204 ? null : response.json();
}

export const api = {
  collections: () => call("GET", "/api/collections"),
  sessions: () => call("GET", "/api/sessions?limit=100"),
  session: (id, offset = 0) =>
    call("GET", `/api/sessions/${encodeURIComponent(id)}?limit=100&offset=${offset}`),
  rename: (id, title) => call("PATCH", `/api/sessions/${encodeURIComponent(id)}`, { json: { title } }),
  remove: (id) => call("DELETE", `/api/sessions/${encodeURIComponent(id)}`),
  activeRun: (sessionId) => call("GET", `/api/runs?session_id=${encodeURIComponent(sessionId)}`),
  startRun: (body) => call("POST", "/api/runs", { json: body }),
  cancelRun: (runId) => call("POST", `/api/runs/${encodeURIComponent(runId)}/cancel`),
  passage: (documentId, chunkId) =>
    call(
      "GET",
      `/api/documents/${encodeURIComponent(documentId)}?chunk_id=${encodeURIComponent(chunkId)}&context=1`,
    ),
  signIn: (key) => call("POST", "/api/auth/session", { headers: { Authorization: `Bearer ${key}` } }),
  signOut: () => call("DELETE", "/api/auth/session"),
};
