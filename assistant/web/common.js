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

/** fetch + JSON, turning every failure into an ApiProblem with a message fit to show. */
export async function requestJson(url, options = {}) {
  let response;
  try {
    response = await fetch(url, { headers: { Accept: "application/json" }, ...options });
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
    const message = error && error.message ? error.message : `The assistant answered with an error (HTTP ${response.status}).`;
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
