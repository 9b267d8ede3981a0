// Renders a /v1/suggest response into the page as text nodes only: ticket text and document content are
// untrusted, so nothing from either ever becomes markup. Shared by the Zendesk and Chatwoot apps.

/** Split an answer at its [n] markers so each can be shown apart from the text around it. */
export function answerParts(text) {
  return String(text || "").split(/(\[\d+\])/).filter((part) => part !== "");
}

/** A citation's link made absolute against the server, or null unless it is http(s). */
export function absoluteUrl(url, server) {
  if (typeof url !== "string" || !url) return null;
  try {
    const resolved = new URL(url, server + "/");
    return resolved.protocol === "https:" || resolved.protocol === "http:" ? resolved.href : null;
  } catch {
    return null;
  }
}

function quoteOf(citation) {
  const text = String(citation.text || "");
  const [start, end] = Array.isArray(citation.highlight) ? citation.highlight : [0, 0];
  return end > start ? text.slice(start, end) : text;
}

function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function renderAnswer(answer, server) {
  const box = element("div", "answer-box");
  if (!answer.found) {
    box.append(element("p", "not-found", "Not found in the knowledge base."));
    return box;
  }
  const text = element("p", "answer");
  for (const part of answerParts(answer.answer)) {
    text.append(/^\[\d+\]$/.test(part) ? element("span", "marker", part) : document.createTextNode(part));
  }
  const list = element("ol", "citations");
  for (const citation of answer.citations || []) {
    const item = element("li", "card");
    item.append(element("h3", "", `[${citation.n}] ${citation.title || citation.source || ""}`));
    item.append(element("blockquote", "", quoteOf(citation)));
    const href = absoluteUrl(citation.url, server);
    if (href) {
      const open = element("a", "open-link", "Open document");
      open.href = href;
      open.target = "_blank";
      open.rel = "noopener noreferrer";
      item.append(open);
    }
    list.append(item);
  }
  box.append(text, list);
  return box;
}

/** Show each question with its answer, and the draft reply, under `root` (#questions, #draft-text). */
export function renderSuggestions(root, body, server) {
  const questions = root.querySelector("#questions");
  questions.replaceChildren();
  for (const found of body.questions || []) {
    const item = element("li", "question");
    item.append(element("h2", "", found.question), renderAnswer(found.answer || {}, server));
    questions.append(item);
  }
  root.querySelector("#no-questions").hidden = (body.questions || []).length > 0;
  // The draft lists its own sources at its end: it is shown, and pasted, exactly as written.
  root.querySelector("#draft-text").textContent = (body.draft && body.draft.text) || "";
  root.querySelector("#result").hidden = false;
}

/** The error message of a failed call: the server's own message when it sent the common error shape. */
export function errorMessage(status, body) {
  const message = body && body.error && typeof body.error.message === "string" ? body.error.message : "";
  if (status === 401 || status === 403) return `${message || "The key was refused."} (check the app's API key)`;
  return message || `The assistant answered ${status || "nothing"}.`;
}
