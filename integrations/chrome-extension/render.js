// Answers into the DOM as text only: document content is untrusted and never becomes markup.

/** Split an answer at its [n] markers so each can link to its citation. */
export function answerParts(text) {
  return text.split(/(\[\d+\])/).filter((part) => part !== "");
}

/** A citation's link made absolute against the server (the API gives /v1/view/... paths). */
export function absoluteUrl(url, server) {
  try {
    const resolved = new URL(url, server + "/");
    return resolved.protocol === "https:" || resolved.protocol === "http:" ? resolved.href : null;
  } catch {
    return null;
  }
}

export function quoteOf(citation) {
  const [start, end] = citation.highlight || [0, 0];
  return end > start ? citation.text.slice(start, end) : citation.text;
}

export function renderAnswer(root, body, server) {
  const answer = root.querySelector("#answer");
  const list = root.querySelector("#citations");
  answer.replaceChildren();
  list.replaceChildren();
  root.querySelector("#not-found").hidden = body.found;
  answer.hidden = !body.found;
  root.querySelector("#sources-heading").textContent = body.found ? "Sources" : "Related passages";
  for (const part of answerParts(body.answer || "")) {
    const marker = /^\[(\d+)\]$/.exec(part);
    if (marker) {
      const link = document.createElement("a");
      link.className = "marker";
      link.href = `#cite-${marker[1]}`;
      link.textContent = part;
      answer.append(link);
    } else {
      answer.append(document.createTextNode(part));
    }
  }
  const citations = body.found ? body.citations : body.related || [];
  for (const citation of citations) {
    const item = document.createElement("li");
    item.id = `cite-${citation.n}`;
    item.className = "card";
    item.tabIndex = -1;
    const title = document.createElement("h3");
    title.textContent = `[${citation.n}] ${citation.title || citation.source}`;
    const quote = document.createElement("blockquote");
    quote.textContent = quoteOf(citation);
    item.append(title, quote);
    const href = absoluteUrl(citation.url, server);
    if (href) {
      const open = document.createElement("a");
      open.className = "open-link";
      open.href = href;
      open.target = "_blank";
      open.rel = "noopener noreferrer";
      open.textContent = "Open document";
      item.append(open);
    }
    list.append(item);
  }
  root.querySelector("#result").hidden = false;
}
