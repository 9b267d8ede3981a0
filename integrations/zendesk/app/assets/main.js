// The ticket sidebar: reads the open ticket through the ZAF client, asks the assistant's /v1/suggest through
// Zendesk's proxy (which adds the secure API key), and inserts the draft reply into the editor.
import { errorMessage, renderSuggestions } from "./suggestions.js";
import { draftHtml, ticketFromZendesk } from "./ticket.js";

const status = document.getElementById("status");
const error = document.getElementById("error");
const inserted = document.getElementById("inserted");
let draft = "";

function show(message, isError = false) {
  status.hidden = isError || !message;
  status.textContent = isError ? "" : message;
  error.hidden = !isError;
  error.textContent = isError ? message : "";
}

/** The server setting as an origin-and-path without a trailing slash, or null unless https (http on loopback). */
export function serverUrl(value) {
  try {
    const url = new URL(String(value || "").trim());
    const loopback = url.hostname === "localhost" || url.hostname === "127.0.0.1";
    if (url.protocol !== "https:" && !(url.protocol === "http:" && loopback)) return null;
    return url.href.replace(/\/+$/, "");
  } catch {
    return null;
  }
}

/** client.request's rejection (a jqXHR-like object) as {status, body}. */
function failure(response) {
  let body = response && response.responseJSON;
  if (!body && response && typeof response.responseText === "string") {
    try {
      body = JSON.parse(response.responseText);
    } catch {
      body = null;
    }
  }
  return { status: (response && response.status) || 0, body };
}

async function suggest(client) {
  document.body.classList.add("is-busy");
  document.body.dataset.state = "busy";
  document.getElementById("result").hidden = true;
  inserted.hidden = true;
  show("Reading the ticket…");
  try {
    const metadata = await client.metadata();
    const server = serverUrl(metadata && metadata.settings && metadata.settings.server_url);
    if (!server) {
      show("Set the assistant server URL (https://...) in the app's settings.", true);
      return;
    }
    const data = await client.get(["ticket.subject", "ticket.comments"]);
    const ticket = ticketFromZendesk(data["ticket.subject"], data["ticket.comments"]);
    if (ticket.messages.length === 0) {
      show("This ticket has no messages yet.");
      return;
    }
    show("Finding the customer's questions…");
    let body;
    try {
      body = await client.request({
        url: `${server}/v1/suggest`,
        type: "POST",
        contentType: "application/json",
        dataType: "json",
        data: JSON.stringify(ticket),
        // Zendesk's proxy puts the secure setting in; the browser only ever sees the placeholder.
        headers: { Authorization: "Bearer {{setting.api_key}}" },
        secure: true,
        cors: false,
      });
    } catch (response) {
      const { status: code, body: errorBody } = failure(response);
      show(errorMessage(code, errorBody), true);
      return;
    }
    draft = (body && body.draft && body.draft.text) || "";
    renderSuggestions(document, body || {}, server);
    document.getElementById("insert-draft").disabled = !draft;
    show("");
  } catch (failed) {
    show(`Could not read the ticket: ${failed && failed.message ? failed.message : failed}`, true);
  } finally {
    document.body.classList.remove("is-busy");
    document.body.dataset.state = error.hidden ? "done" : "error";
  }
}

const client = window.ZAFClient ? window.ZAFClient.init() : false;
if (!client) {
  show("Open this page as a Zendesk app: it needs the Zendesk frame around it.", true);
  document.body.dataset.state = "error";
} else {
  client.on("app.registered", () => suggest(client));
  document.getElementById("refresh").addEventListener("click", () => suggest(client));
  document.getElementById("insert-draft").addEventListener("click", async () => {
    if (!draft) return;
    try {
      await client.invoke("ticket.editor.insert", draftHtml(draft));
      inserted.hidden = false;
    } catch (failed) {
      show(`Could not insert the draft: ${failed && failed.message ? failed.message : failed}`, true);
    }
  });
}
