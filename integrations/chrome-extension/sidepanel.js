// The side panel: asks the configured server's /v1/ask with the agent's key from extension storage.
import { loadConfig, PENDING } from "./config.js";
import { renderAnswer } from "./render.js";

const form = document.getElementById("ask-form");
const question = document.getElementById("question");
const error = document.getElementById("error");
const setup = document.getElementById("setup");

function showError(message) {
  error.textContent = message;
  error.hidden = !message;
}

async function ask(text) {
  const config = await loadConfig();
  if (!config.server) {
    setup.hidden = false;
    return;
  }
  setup.hidden = true;
  showError("");
  document.body.classList.add("is-busy");
  try {
    const headers = { "Content-Type": "application/json" };
    // The key goes only to the configured server, the extension's single host permission.
    if (config.key) headers.Authorization = `Bearer ${config.key}`;
    const response = await fetch(`${config.server}/v1/ask`, {
      method: "POST",
      headers,
      body: JSON.stringify({ question: text }),
      credentials: "omit",
    });
    const body = await response.json().catch(() => null);
    if (!response.ok) {
      const message = body && body.error ? body.error.message : `The server answered ${response.status}.`;
      showError(response.status === 401 || response.status === 403 ? `${message} (check the key in the options)` : message);
      if (response.status === 401 || response.status === 403) setup.hidden = false;
      document.getElementById("result").hidden = true;
      return;
    }
    renderAnswer(document, body, config.server);
  } catch (failure) {
    showError(`Could not reach ${config.server}: ${failure.message}`);
  } finally {
    document.body.classList.remove("is-busy");
  }
}

function askPending(pending) {
  if (!pending || !pending.question) return;
  question.value = pending.question;
  chrome.storage.session.remove(PENDING);
  ask(pending.question);
}

form.addEventListener("submit", (event) => {
  event.preventDefault();
  const text = question.value.trim();
  if (text) ask(text);
});
question.addEventListener("keydown", (event) => {
  if (event.key === "Enter" && !event.shiftKey) {
    event.preventDefault();
    form.requestSubmit();
  }
});
document.getElementById("open-options").addEventListener("click", (event) => {
  event.preventDefault();
  chrome.runtime.openOptionsPage();
});

// A question from the context menu: waiting when the panel opens, or arriving while it is open.
chrome.storage.onChanged.addListener((changes, area) => {
  if (area === "session" && changes[PENDING]) askPending(changes[PENDING].newValue);
});
chrome.storage.session.get(PENDING).then((stored) => {
  askPending(stored[PENDING]);
  document.body.dataset.ready = "true";
});
