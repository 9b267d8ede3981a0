// The agents' side panel: a conversation with the knowledge base. Ask, ask follow-ups, read the
// cited answer, copy it into a reply, rate it.
import {
  ApiProblem,
  currentSession,
  el,
  initKeyBox,
  postJson,
  postStream,
  requestJson,
  sessionSettled,
} from "/static/common.js";

const RECENT_KEY = "assistant.recentQuestions";
const RECENT_MAX = 8;
const $ = (id) => document.getElementById(id);

// `turns` are the earlier turns of the conversation shown above the current answer.
const state = { question: "", response: null, controller: null, rating: null, conversationId: null, turns: [] };

// ---- answer and citations -------------------------------------------------------------------

/** Passage text as nodes, with the [start, end) highlight (in code points) wrapped in <mark>. */
export function passageNodes(text, highlight) {
  if (!highlight) return [document.createTextNode(text)];
  // The server counts Unicode code points; JavaScript strings count UTF-16 units.
  const chars = Array.from(text);
  const [start, end] = highlight.map((i) => Math.max(0, Math.min(chars.length, i)));
  if (end <= start) return [document.createTextNode(text)];
  return [
    document.createTextNode(chars.slice(0, start).join("")),
    el("mark", {}, chars.slice(start, end).join("")),
    document.createTextNode(chars.slice(end).join("")),
  ];
}

/** The section path without the document title it usually starts with ("Guide > Returns" → "Returns"). */
function sectionOf(item) {
  const section = item.section || "";
  const prefix = item.title ? `${item.title} > ` : null;
  return prefix && section.startsWith(prefix) ? section.slice(prefix.length) : section;
}

/** "page 2 / Section" for a citation, or "" when it has neither. */
export function placeOf(item) {
  return [item.page ? `page ${item.page}` : null, sectionOf(item)].filter(Boolean).join(" / ");
}

/** The answer as plain text with a Sources list, ready to paste into a customer reply. */
export function plainTextAnswer(response) {
  const lines = response.citations.map((c) => {
    const place = placeOf(c);
    return `[${c.n}] ${c.title || c.source}${place ? ", " + place : ""} — ${c.source}`;
  });
  return lines.length ? `${response.answer}\n\nSources:\n${lines.join("\n")}` : response.answer;
}

function focusCard(n) {
  const card = $(`cite-${n}`);
  if (!card) return;
  card.scrollIntoView({ block: "nearest", behavior: "smooth" });
  card.focus({ preventScroll: true });
  card.classList.remove("flash");
  // Restart the highlight animation when the same card is chosen twice.
  void card.offsetWidth;
  card.classList.add("flash");
}

/** Answer text as nodes: every [n] that names a shown card becomes a link to it. */
function answerNodes(text, numbers) {
  const nodes = [];
  let last = 0;
  for (const match of text.matchAll(/\[(\d+)\]/g)) {
    const n = Number(match[1]);
    if (!numbers.has(n)) continue;
    nodes.push(document.createTextNode(text.slice(last, match.index)));
    nodes.push(
      el(
        "a",
        {
          href: `#cite-${n}`,
          class: "marker",
          "aria-label": `Source ${n}`,
          onclick: (event) => {
            event.preventDefault();
            focusCard(n);
          },
        },
        `[${n}]`,
      ),
    );
    last = match.index + match[0].length;
  }
  nodes.push(document.createTextNode(text.slice(last)));
  return nodes;
}

function card(item) {
  const titleId = `cite-${item.n}-title`;
  const place = placeOf(item);
  return el(
    "li",
    {},
    el(
      "article",
      { class: "card", id: `cite-${item.n}`, tabindex: "-1", "aria-labelledby": titleId },
      el(
        "header",
        { class: "card-head" },
        el("span", { class: "badge", "aria-hidden": "true" }, String(item.n)),
        el(
          "div",
          { class: "card-title" },
          el("h3", { id: titleId }, el("span", { class: "visually-hidden" }, `Source ${item.n}: `), item.title || item.source),
          place ? el("p", { class: "place" }, place) : null,
        ),
      ),
      el("p", { class: "passage", lang: item.language || null }, passageNodes(item.text, item.highlight)),
      el(
        "footer",
        { class: "card-foot" },
        el("span", { class: "source" }, item.source),
        el(
          "a",
          { href: item.url, target: "_blank", rel: "noopener", class: "open-link" },
          "Open document",
          el("span", { class: "visually-hidden" }, " (opens in a new tab)"),
          el("span", { "aria-hidden": "true" }, " ↗"),
        ),
      ),
    ),
  );
}

/** "Searched for: ..." when the conversation changed what was searched, else "". */
export function searchedForText(question, response) {
  const searched = (response.searched_for || "").trim();
  return searched && searched !== question.trim() ? `Searched for: ${searched}` : "";
}

function renderResult(question, response) {
  $("current-question").textContent = question;
  $("current-question").lang = response.language || "";
  const searched = searchedForText(question, response);
  $("searched-for").textContent = searched;
  $("searched-for").hidden = !searched;
  const found = response.found;
  const shown = found ? response.citations : response.related;
  const numbers = new Set(shown.map((c) => c.n));

  $("not-found").hidden = found;
  $("not-found-message").lang = response.language || "";
  $("not-found-message").textContent = found ? "" : response.answer;
  const answer = $("answer");
  answer.lang = response.language || "";
  answer.hidden = !found;
  answer.replaceChildren(...(found ? answerNodes(response.answer, numbers) : []));

  $("sources-heading").textContent = found ? "Sources" : "Related passages";
  $("citations").replaceChildren(...shown.map(card));
  const more = $("more");
  const extra = found ? response.related : [];
  more.hidden = extra.length === 0;
  more.open = false;
  $("more-summary").textContent = `More passages (${extra.length})`;
  $("related").replaceChildren(...extra.map(card));

  $("copy").hidden = !found;
  $("copy-status").textContent = "";
  resetFeedback();
  $("result").hidden = false;
}

// ---- asking ---------------------------------------------------------------------------------

function setBusy(busy) {
  $("ask-button").disabled = busy;
  $("ask-button").textContent = busy ? "Asking…" : "Ask";
  $("result").setAttribute("aria-busy", String(busy));
  document.body.classList.toggle("is-busy", busy);
  $("status").classList.toggle("visually-hidden", !busy);
  if (busy) $("status").textContent = "Searching the knowledge base…";
}

function showError(message) {
  const box = $("error");
  box.textContent = message;
  box.hidden = !message;
}

function turnItem(turn) {
  const searched = searchedForText(turn.question, turn.response);
  return el(
    "li",
    { class: "turn" },
    el("p", { class: "turn-question", lang: turn.response.language || null }, turn.question),
    searched ? el("p", { class: "searched-for" }, searched) : null,
    el("p", { class: "turn-answer", lang: turn.response.language || null }, turn.response.answer),
  );
}

function renderThread() {
  $("thread").replaceChildren(...state.turns.map(turnItem));
  $("thread-section").hidden = state.turns.length === 0;
  $("conversation-bar").hidden = !state.conversationId;
}

/** Start over: the server forgets the conversation, the panel clears the thread. */
async function newConversation() {
  if (state.controller) state.controller.abort();
  const id = state.conversationId;
  state.conversationId = null;
  state.turns = [];
  state.question = "";
  state.response = null;
  $("result").hidden = true;
  showError("");
  renderThread();
  $("question").value = "";
  $("question").focus();
  $("status").textContent = "New conversation started.";
  if (id) {
    try {
      await requestJson(`/v1/conversations/${encodeURIComponent(id)}`, { method: "DELETE" });
    } catch {
      // Already expired or gone: starting over needs nothing more.
    }
  }
}

/** The answer from /v1/ask, or from the stream route (drafts shown as they arrive) with an LLM. */
async function fetchAnswer(body, signal) {
  await sessionSettled();
  if (!currentSession().llm_answers) return postJson("/v1/ask", body, { signal });
  let final = null;
  let drafting = false;
  await postStream(
    "/v1/ask/stream",
    body,
    (name, data) => {
      if (name === "draft") {
        const answer = $("answer");
        if (!drafting) {
          // The draft replaces the previous answer until the checked one arrives.
          drafting = true;
          $("current-question").textContent = body.question;
          $("searched-for").hidden = true;
          $("not-found").hidden = true;
          answer.replaceChildren();
          $("result").hidden = false;
        }
        answer.hidden = false;
        answer.append(document.createTextNode(data.text));
      } else if (name === "answer") {
        final = data;
      }
    },
    { signal },
  );
  if (!final) throw new ApiProblem("The answer was cut off; try again.");
  return final;
}

async function ask(question) {
  question = question.trim();
  if (!question) {
    showError("Type a question first.");
    $("question").focus();
    return;
  }
  if (state.controller) state.controller.abort();
  const controller = new AbortController();
  state.controller = controller;
  showError("");
  setBusy(true);
  rememberQuestion(question);
  try {
    const body = { question };
    if (state.conversationId) body.conversation_id = state.conversationId;
    let response;
    try {
      response = await fetchAnswer(body, controller.signal);
    } catch (error) {
      // The conversation expired on the server: carry on in a new one.
      if (!(error instanceof ApiProblem) || error.code !== "conversation_not_found") throw error;
      state.conversationId = null;
      state.turns = [];
      response = await fetchAnswer({ question }, controller.signal);
    }
    if (state.response && response.conversation_id === state.conversationId) {
      state.turns.push({ question: state.question, response: state.response });
    } else {
      state.turns = [];
    }
    state.conversationId = response.conversation_id || null;
    state.question = question;
    state.response = response;
    renderThread();
    renderResult(question, response);
    // Typing the follow-up replaces the question just asked.
    if (document.activeElement === $("question")) $("question").select();
    $("status").textContent = response.found
      ? `Answer ready with ${response.citations.length} source${response.citations.length === 1 ? "" : "s"}.`
      : "Not found in the knowledge base. Related passages are shown.";
  } catch (error) {
    if (error.name === "AbortError") return;
    showError(error instanceof ApiProblem ? error.message : "Something went wrong; try again.");
    $("status").textContent = "";
  } finally {
    if (state.controller === controller) {
      state.controller = null;
      setBusy(false);
    }
  }
}

// ---- copy -----------------------------------------------------------------------------------

async function copyText(text) {
  if (navigator.clipboard && window.isSecureContext) {
    try {
      await navigator.clipboard.writeText(text);
      return true;
    } catch {
      // Fall through: some embedding frames deny the async clipboard.
    }
  }
  const area = el("textarea", { class: "offscreen", readonly: true, "aria-hidden": "true" });
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

async function onCopy() {
  if (!state.response) return;
  const text = plainTextAnswer(state.response);
  const copied = await copyText(text);
  $("copy").dataset.copied = text;
  $("copy-status").textContent = copied ? "Copied with sources." : "Could not copy; select the text instead.";
}

// ---- feedback -------------------------------------------------------------------------------

function resetFeedback() {
  state.rating = null;
  for (const id of ["thumb-up", "thumb-down"]) {
    $(id).setAttribute("aria-pressed", "false");
    $(id).disabled = false;
  }
  $("comment-form").hidden = true;
  $("comment").value = "";
  $("feedback-status").textContent = "";
}

async function sendFeedback(rating, comment) {
  const response = state.response;
  if (!response) return;
  const sources = (response.found ? response.citations : response.related).map((c) => c.source);
  $("feedback-status").textContent = "Sending…";
  try {
    await postJson("/v1/feedback", {
      question: state.question,
      answer: response.answer,
      found: response.found,
      index_version: response.index_version,
      rating,
      comment: comment || null,
      sources: [...new Set(sources)],
      answer_id: response.answer_id || null,
    });
    $("comment-form").hidden = true;
    for (const id of ["thumb-up", "thumb-down"]) $(id).disabled = true;
    $("feedback-status").textContent = "Thanks, your feedback was sent.";
  } catch (error) {
    $("feedback-status").textContent = error instanceof ApiProblem ? error.message : "Feedback could not be sent.";
  }
}

function choose(rating) {
  state.rating = rating;
  $("thumb-up").setAttribute("aria-pressed", String(rating === "up"));
  $("thumb-down").setAttribute("aria-pressed", String(rating === "down"));
  if (rating === "up") {
    sendFeedback("up", "");
    return;
  }
  $("comment-form").hidden = false;
  $("feedback-status").textContent = "";
  $("comment").focus();
}

// ---- recent questions -----------------------------------------------------------------------

function loadRecent() {
  try {
    const list = JSON.parse(localStorage.getItem(RECENT_KEY) || "[]");
    return Array.isArray(list) ? list.filter((q) => typeof q === "string") : [];
  } catch {
    return [];
  }
}

function saveRecent(list) {
  try {
    localStorage.setItem(RECENT_KEY, JSON.stringify(list));
  } catch {
    // Storage can be disabled in embedded frames; recent questions are a convenience only.
  }
}

function rememberQuestion(question) {
  saveRecent([question, ...loadRecent().filter((q) => q !== question)].slice(0, RECENT_MAX));
  renderRecent();
}

function renderRecent() {
  const list = loadRecent();
  $("recent-list").replaceChildren(
    ...list.map((q) =>
      el(
        "li",
        {},
        el(
          "button",
          {
            type: "button",
            class: "recent-item",
            title: "Ask again",
            onclick: () => {
              $("question").value = q;
              ask(q);
            },
          },
          q,
        ),
      ),
    ),
  );
  $("recent-empty").hidden = list.length > 0;
  $("clear-recent").hidden = list.length === 0;
}

// ---- wiring ---------------------------------------------------------------------------------

async function init() {
  const question = $("question");
  $("ask-form").addEventListener("submit", (event) => {
    event.preventDefault();
    ask(question.value);
  });
  question.addEventListener("keydown", (event) => {
    // Enter asks; Shift+Enter adds a line; Enter that confirms an input-method word does neither.
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      ask(question.value);
    }
  });
  $("copy").addEventListener("click", onCopy);
  $("thumb-up").addEventListener("click", () => choose("up"));
  $("thumb-down").addEventListener("click", () => choose("down"));
  $("comment-form").addEventListener("submit", (event) => {
    event.preventDefault();
    sendFeedback("down", $("comment").value.trim());
  });
  $("cancel-feedback").addEventListener("click", resetFeedback);
  $("new-conversation").addEventListener("click", newConversation);
  $("clear-recent").addEventListener("click", () => {
    saveRecent([]);
    renderRecent();
  });
  renderRecent();
  // A question given in the address waits for the session, which may come from ?key= too.
  await initKeyBox();
  const asked = new URLSearchParams(location.search).get("q");
  if (asked) {
    question.value = asked;
    ask(asked);
  } else {
    question.focus();
  }
}

init();
