// The options page: the server URL (granted as this extension's only host) and the agent's key.
import { loadConfig, originPattern } from "./config.js";

const form = document.getElementById("options-form");
const server = document.getElementById("server");
const key = document.getElementById("key");
const status = document.getElementById("status");

loadConfig().then((config) => {
  server.value = config.server;
  key.value = config.key;
  form.dataset.ready = "true";
});

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  const pattern = originPattern(server.value.trim());
  if (!pattern) {
    status.textContent = "Enter the server's address, starting with https://.";
    return;
  }
  // Ask for this one host only; the manifest grants none up front.
  let granted = await chrome.permissions.contains({ origins: [pattern] });
  if (!granted) {
    try {
      granted = await chrome.permissions.request({ origins: [pattern] });
    } catch (error) {
      granted = false;
    }
  }
  if (!granted) {
    status.textContent = `Chrome did not allow access to ${pattern}; the panel cannot reach the server.`;
    return;
  }
  await chrome.storage.local.set({ server: server.value.trim().replace(/\/+$/, ""), key: key.value.trim() });
  status.textContent = "Saved.";
});
