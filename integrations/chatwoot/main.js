// The Chatwoot dashboard app: takes the open conversation from Chatwoot's appContext message, asks this
// server's /v1/suggest, and shows each question's cited answer and a draft reply to copy.
import { FETCH_INFO, parseAppContext, ticketFromChatwoot, ticketKey } from "./conversation.js";
import { errorMessage, renderSuggestions } from "./suggestions.js";

// The page is served by the assistant server itself: the API is same-origin.
const SERVER = window.location.origin;
const KEY_STORAGE = "assistant.chatwootKey";
const $ = (id) => document.getElementById(id);
let current = { key: null, conversation: null, draft: "" };

function storedKey() {
  try {
    return sessionStorage.getItem(KEY_STORAGE);
  } catch {
    // Storage can be blocked in an embedded frame: the key then lives in memory for this page only.
    return current.key;
  }
}

function storeKey(key) {
  current.key = key;
  try {
    sessionStorage.setItem(KEY_STORAGE, key);
  } catch {
    // Memory only, as above.
  }
}

function show(message, isError = false) {
  $("status").hidden = isError || !message;
  $("status").textContent = isError ? "" : message;
  $("error").hidden = !isError;
  $("error").textContent = isError ? message : "";
}

async function suggest(conversation) {
  const ticket = ticketFromChatwoot(conversation);
  current.conversation = conversation;
  $("result").hidden = true;
  $("copy-status").textContent = "";
  if (ticket.messages.length === 0) {
    show("This conversation has no messages yet.");
    document.body.dataset.state = "done";
    return;
  }
  document.body.dataset.state = "busy";
  show("Finding the customer's questions…");
  const headers = { "Content-Type": "application/json" };
  const key = storedKey();
  if (key) headers.Authorization = `Bearer ${key}`;
  try {
    // The key travels in the header only; no cookie of the server's own pages rides along.
    const response = await fetch(`${SERVER}/v1/suggest`, {
      method: "POST",
      headers,
      body: JSON.stringify(ticket),
      credentials: "omit",
    });
    const body = await response.json().catch(() => null);
    if (!response.ok) {
      const needsKey = response.status === 401;
      $("key-form").hidden = !needsKey;
      show(needsKey && !key ? "Enter your assistant API key to see suggestions." : errorMessage(response.status, body), true);
      return;
    }
    $("key-form").hidden = true;
    current.draft = (body.draft && body.draft.text) || "";
    renderSuggestions(document, body, SERVER);
    $("copy-draft").disabled = !current.draft;
    show("");
  } catch (failed) {
    show(`Could not reach the assistant: ${failed.message}`, true);
  } finally {
    if (document.body.dataset.state === "busy") document.body.dataset.state = $("error").hidden ? "done" : "error";
  }
}

async function copyText(text) {
  if (navigator.clipboard && window.isSecureContext) {
    try {
      await navigator.clipboard.writeText(text);
      return true;
    } catch {
      // Fall through: Chatwoot's frame does not delegate the async clipboard.
    }
  }
  const area = document.createElement("textarea");
  area.className = "offscreen";
  area.readOnly = true;
  area.value = text;
  document.body.append(area);
  area.select();
  let copied = false;
  try {
    copied = document.execCommand("copy");
  } catch {
    copied = false;
  }
  area.remove();
  return copied;
}

let lastKey = null;
window.addEventListener("message", (event) => {
  // Only the frame around us speaks for Chatwoot; the server's frame-ancestors already limits who that is.
  if (event.source !== window.parent || window.parent === window) return;
  const conversation = parseAppContext(event.data);
  if (!conversation) return;
  const key = ticketKey(conversation.id, ticketFromChatwoot(conversation));
  // Chatwoot posts the same context on load and on fetch-info: one request per change of conversation.
  if (key === lastKey) return;
  lastKey = key;
  suggest(conversation);
});

$("refresh").addEventListener("click", () => {
  lastKey = null;
  window.parent.postMessage(FETCH_INFO, "*");
});
$("key-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const key = $("key").value.trim();
  if (!key) return;
  storeKey(key);
  $("key").value = "";
  if (current.conversation) suggest(current.conversation);
});
$("copy-draft").addEventListener("click", async () => {
  if (!current.draft) return;
  const copied = await copyText(current.draft);
  $("copy-draft").dataset.copied = current.draft;
  $("copy-status").textContent = copied ? "Copied." : "Could not copy; select the draft and copy it.";
});

if (window.parent === window) {
  show("Open this page as a Chatwoot dashboard app: it needs the conversation from Chatwoot.", true);
} else {
  // Chatwoot posts the context when the frame loads; asking covers a listener that started later.
  window.parent.postMessage(FETCH_INFO, "*");
}
document.body.dataset.ready = "true";
