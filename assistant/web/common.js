// Helpers shared by the side panel and the manage page. Document text only ever goes into
// textContent or text nodes, never into innerHTML.

/** Build an element: el("a", {href: "#x", class: "marker"}, "text", childNode). */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (name === "class") node.className = value;
    else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

/** An API error in plain words, from the common error shape when the server sent one. */
export class ApiProblem extends Error {
  constructor(message, status = 0, code = "") {
    super(message);
    this.status = status;
    this.code = code;
  }
}

// ---- session ----------------------------------------------------------------------------------
// The key is typed once and sent once, to POST /v1/session. The server answers with an HttpOnly
// cookie that no script can read, which also opens documents in new tabs, and a CSRF token that
// this page keeps in memory and sends with every request that changes something.

// Where earlier versions of the panel kept the raw key; removed on every load.
const OLD_KEY_STORAGE = "assistant.apiKey";
const OLD_KEY_COOKIE = "assistant_key";
const UNSAFE_METHODS = new Set(["POST", "PUT", "PATCH", "DELETE"]);

let session = { signed_in: false, keys_required: true, csrf_token: null };
// A sign-in or session lookup in flight: every other request waits for it, so a question asked the
// moment the key is submitted, or a button clicked as the page loads, goes out with the session and
// its CSRF token instead of failing with 401 or 403.
let signingIn = null;

function forgetStoredKey() {
  try {
    localStorage.removeItem(OLD_KEY_STORAGE);
  } catch {
    // Storage can be disabled in embedded frames; then nothing was stored either.
  }
  document.cookie = `${OLD_KEY_COOKIE}=; path=/v1/; max-age=0`;
}

/** The session as the server last described it: {signed_in, keys_required, name, role, expires_at}. */
export function currentSession() {
  return session;
}

/** Take the session from `attempt`, holding every other request until it has settled. */
async function settleSession(attempt) {
  signingIn = attempt.catch(() => null);
  try {
    session = await attempt;
  } finally {
    signingIn = null;
  }
  return session;
}

export function loadSession() {
  return settleSession(requestJson("/v1/session", { waitForSignIn: false }));
}

export function signIn(key) {
  return settleSession(postJson("/v1/session", { key: (key || "").trim() }, { waitForSignIn: false }));
}

/** Resolves once no sign-in or session lookup is in flight. */
export async function sessionSettled() {
  while (signingIn) await signingIn;
}

export async function signOut() {
  session = await requestJson("/v1/session", { method: "DELETE" });
  return session;
}

/** Take a key from `?key=` once, dropping it from the address bar and history at once. */
function keyFromAddress() {
  const params = new URLSearchParams(location.search);
  if (!params.has("key")) return "";
  const key = params.get("key") || "";
  params.delete("key");
  const query = params.toString();
  history.replaceState(null, "", location.pathname + (query ? `?${query}` : "") + location.hash);
  return key;
}

function describe(current) {
  if (!current.keys_required) return "No key needed: this server has none configured.";
  if (!current.signed_in) return "Not signed in.";
  const until = current.expires_at ? ` until ${formatTime(current.expires_at)}` : "";
  return `Signed in as ${current.name} (${current.role})${until}.`;
}

/** Wire the key box in the top bar and learn the session; resolves once the page may call the API. */
export async function initKeyBox() {
  forgetStoredKey();
  const box = document.getElementById("key-box");
  const input = document.getElementById("api-key");
  const status = document.getElementById("key-status");
  const signOutButton = document.getElementById("sign-out");
  const show = (message) => {
    if (!status) return;
    status.textContent = message || describe(session);
    signOutButton.hidden = !session.signed_in;
  };
  if (box) {
    document.getElementById("key-form").addEventListener("submit", async (event) => {
      event.preventDefault();
      const key = input.value;
      input.value = "";
      try {
        await signIn(key);
        show();
        box.open = false;
        // Pages reload what a 401 or 403 left empty.
        document.dispatchEvent(new CustomEvent("assistant:signed-in"));
      } catch (error) {
        show(error instanceof ApiProblem ? error.message : "Could not sign in; try again.");
      }
    });
    signOutButton.addEventListener("click", async () => {
      try {
        await signOut();
        show();
      } catch (error) {
        show(error instanceof ApiProblem ? error.message : "Could not sign out; try again.");
      }
    });
  }
  const key = keyFromAddress();
  try {
    if (key) await signIn(key);
    else await loadSession();
    show();
  } catch (error) {
    show(error instanceof ApiProblem ? error.message : "");
  }
}

/** Open the key box, e.g. after a 401 or 403. */
export function askForKey() {
  const box = document.getElementById("key-box");
  if (box) box.open = true;
}

const UNAUTHORISED = {
  unknown_api_key: "That API key was not accepted. Check it under Key, top right, or ask your administrator.",
  session_expired: "Your session has ended: enter your API key again under Key, top right.",
  missing_api_key: "This assistant needs an API key: enter the key from your administrator under Key, top right.",
};

function headersFor(method, extra = {}) {
  const headers = { Accept: "application/json", ...extra };
  if (UNSAFE_METHODS.has(method) && session.csrf_token) headers["X-CSRF-Token"] = session.csrf_token;
  return headers;
}

async function send(url, options) {
  try {
    return await fetch(url, { ...options, credentials: "same-origin" });
  } catch (error) {
    if (error.name === "AbortError") throw error;
    throw new ApiProblem("Could not reach the assistant. Check the connection and try again.");
  }
}

/** The ApiProblem for a refused request, from the common error shape when the server sent one. */
function problemOf(response, body) {
  const error = body && body.error;
  const code = error ? error.code : "";
  let message = error && error.message ? error.message : `The assistant answered with an error (HTTP ${response.status}).`;
  if (response.status === 401) {
    message = UNAUTHORISED[code] || UNAUTHORISED.missing_api_key;
    session = { ...session, signed_in: false, csrf_token: null };
  }
  if (response.status === 401 || response.status === 403) askForKey();
  return new ApiProblem(message, response.status, code);
}

/** fetch + JSON, turning every failure into an ApiProblem with a message fit to show. */
export async function requestJson(url, options = {}) {
  const { waitForSignIn = true, ...fetchOptions } = options;
  if (waitForSignIn) await sessionSettled();
  const method = (fetchOptions.method || "GET").toUpperCase();
  const response = await send(url, { ...fetchOptions, headers: headersFor(method, fetchOptions.headers) });
  let body = null;
  try {
    body = await response.json();
  } catch {
    body = null;
  }
  if (!response.ok) throw problemOf(response, body);
  return body;
}

/** POST a JSON body to a server-sent-events route; calls onEvent(name, data) per event, in order. */
export async function postStream(url, body, onEvent, options = {}) {
  await sessionSettled();
  const headers = headersFor("POST", { "Content-Type": "application/json", Accept: "text/event-stream" });
  const response = await send(url, { method: "POST", headers, body: JSON.stringify(body), ...options });
  if (!response.ok) {
    let error = null;
    try {
      error = await response.json();
    } catch {
      error = null;
    }
    throw problemOf(response, error);
  }
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    buffer += decoder.decode(value || new Uint8Array(), { stream: !done });
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const name = (block.match(/^event: (.*)$/m) || [])[1] || "message";
      const data = block
        .split("\n")
        .filter((line) => line.startsWith("data: "))
        .map((line) => line.slice(6))
        .join("\n");
      if (data) onEvent(name, JSON.parse(data));
    }
    if (done) return;
  }
}

/** Post a JSON body. */
export function postJson(url, body, options = {}) {
  return requestJson(url, {
    method: "POST",
    headers: { "Content-Type": "application/json", Accept: "application/json" },
    body: JSON.stringify(body),
    ...options,
  });
}

/** "2026-01-05T10:20:00+00:00" → local date and time, or the raw text if it does not parse. */
export function formatTime(iso) {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso || "";
  return date.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
}
