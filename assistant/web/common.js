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

// ---- API key -------------------------------------------------------------------------------
// Kept in localStorage and sent as X-API-Key. Links that open documents in a new tab cannot send
// a header, so the key is also a cookie, which the server accepts for reading documents only.

const KEY_STORAGE = "assistant.apiKey";
const KEY_COOKIE = "assistant_key";

export function apiKey() {
  try {
    return localStorage.getItem(KEY_STORAGE) || "";
  } catch {
    return "";
  }
}

export function setApiKey(key) {
  key = (key || "").trim();
  try {
    if (key) localStorage.setItem(KEY_STORAGE, key);
    else localStorage.removeItem(KEY_STORAGE);
  } catch {
    // Storage can be disabled in embedded frames; the key then lasts for this page only.
  }
  const secure = location.protocol === "https:" ? "; Secure" : "";
  document.cookie = key
    ? `${KEY_COOKIE}=${encodeURIComponent(key)}; path=/v1/; SameSite=Strict${secure}`
    : `${KEY_COOKIE}=; path=/v1/; max-age=0`;
}

/** Take a key from `?key=` once, then drop it from the address bar and history. */
function keyFromAddress() {
  const params = new URLSearchParams(location.search);
  if (!params.has("key")) return;
  setApiKey(params.get("key"));
  params.delete("key");
  const query = params.toString();
  history.replaceState(null, "", location.pathname + (query ? `?${query}` : "") + location.hash);
}

/** Wire the small key form in the top bar: <details id="key-box"> with #api-key and #key-form. */
export function initKeyBox() {
  keyFromAddress();
  const box = document.getElementById("key-box");
  if (!box) return;
  const input = document.getElementById("api-key");
  const status = document.getElementById("key-status");
  const show = () => {
    status.textContent = apiKey() ? "Key saved in this browser." : "No key: fine if the server needs none.";
  };
  input.value = apiKey();
  if (apiKey()) setApiKey(apiKey()); // refresh the cookie
  show();
  document.getElementById("key-form").addEventListener("submit", (event) => {
    event.preventDefault();
    setApiKey(input.value);
    show();
    box.open = false;
  });
}

/** Open the key box, e.g. after a 401 or 403. */
export function askForKey() {
  const box = document.getElementById("key-box");
  if (box) box.open = true;
}

/** fetch + JSON, turning every failure into an ApiProblem with a message fit to show. */
export async function requestJson(url, options = {}) {
  let response;
  const headers = { Accept: "application/json", ...(options.headers || {}) };
  const key = apiKey();
  if (key) headers["X-API-Key"] = key;
  try {
    response = await fetch(url, { ...options, headers });
  } catch (error) {
    if (error.name === "AbortError") throw error;
    throw new ApiProblem("Could not reach the assistant. Check the connection and try again.");
  }
  let body = null;
  try {
    body = await response.json();
  } catch {
    body = null;
  }
  if (!response.ok) {
    const error = body && body.error;
    let message = error && error.message ? error.message : `The assistant answered with an error (HTTP ${response.status}).`;
    if (response.status === 401) {
      message = apiKey()
        ? "Your API key was not accepted. Check it under Key, top right, or ask your administrator."
        : "This assistant needs an API key: enter the key from your administrator under Key, top right.";
    }
    if (response.status === 401 || response.status === 403) askForKey();
    throw new ApiProblem(message, response.status, error ? error.code : "");
  }
  return body;
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
