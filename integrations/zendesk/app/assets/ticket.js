// The open Zendesk ticket as the /v1/suggest request: comments' HTML read as text, authors mapped to roles.

// Elements that end a line when a comment's HTML is read as text.
const BLOCKS = new Set(["P", "DIV", "LI", "TR", "H1", "H2", "H3", "H4", "H5", "H6", "PRE", "UL", "OL", "TABLE"]);

/** A comment body's text. DOMParser builds an inert document: its scripts never run, its images never load. */
export function htmlToText(html) {
  const doc = new DOMParser().parseFromString(String(html || ""), "text/html");
  const lines = [];
  let line = "";
  const walk = (node) => {
    for (const child of node.childNodes) {
      if (child.nodeType === Node.TEXT_NODE) {
        line += child.nodeValue.replace(/\s+/g, " ");
      } else if (child.nodeType === Node.ELEMENT_NODE) {
        // A quoted earlier message is not the customer's new question.
        if (child.tagName === "BLOCKQUOTE" || child.tagName === "SCRIPT" || child.tagName === "STYLE") continue;
        if (child.tagName === "BR") {
          lines.push(line);
          line = "";
          continue;
        }
        walk(child);
        if (BLOCKS.has(child.tagName)) {
          lines.push(line);
          line = "";
        }
      }
    }
  };
  walk(doc.body);
  lines.push(line);
  return lines.map((text) => text.trim()).join("\n").replace(/\n{3,}/g, "\n\n").trim();
}

/** "customer" for the requester's side (end users), "agent" for agents and admins. */
export function authorRole(comment) {
  const role = comment && comment.author && comment.author.role;
  return role === "end-user" || role === "end_user" ? "customer" : "agent";
}

/** The suggest request for a ticket: public comments only, oldest first, empty ones dropped. */
export function ticketFromZendesk(subject, comments) {
  const list = Array.isArray(comments) ? comments.filter((c) => c && typeof c === "object") : [];
  const times = list.map((c) => Date.parse(c.created_at));
  // Zendesk lists a ticket's comments newest first in some views: order by time when every comment has one.
  const ordered = times.every((t) => !Number.isNaN(t))
    ? list.map((c, i) => [times[i], i, c]).sort((a, b) => a[0] - b[0] || a[1] - b[1]).map((x) => x[2])
    : list;
  const messages = ordered
    // Internal notes are agents talking among themselves, not the conversation with the customer.
    .filter((c) => c.public !== false)
    .map((c) => ({ author: authorRole(c), text: htmlToText(c.value) }))
    .filter((m) => m.text !== "");
  return { subject: typeof subject === "string" ? subject : "", messages };
}

/** The draft as HTML for ticket.editor.insert, which reads its argument as HTML: every character escaped. */
export function draftHtml(text) {
  const escape = (s) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
  return String(text || "")
    .split(/\n{2,}/)
    .map((paragraph) => `<p>${paragraph.split("\n").map(escape).join("<br>")}</p>`)
    .join("");
}
