// The knowledge manager's page: what is indexed, what failed, uploads, re-index progress, content gaps.
import { ApiProblem, el, formatTime, initKeyBox, requestJson } from "/static/common.js";

const $ = (id) => document.getElementById(id);
const POLL_MS = 500;
let polling = null;

function showError(error) {
  const message = error instanceof ApiProblem ? error.message : error ? String(error) : "";
  $("error").textContent = message;
  $("error").hidden = !message;
}

function say(id, text, ok) {
  const node = $(id);
  node.textContent = text;
  node.classList.toggle("ok", ok === true);
  node.classList.toggle("bad", ok === false);
}

// ---- tables ---------------------------------------------------------------------------------

async function loadDocuments() {
  const body = await requestJson("/v1/manage/documents");
  const rows = body.documents.map((d) =>
    el(
      "tr",
      {},
      el("td", {}, el("a", { href: `/v1/view/${d.source.split("/").map(encodeURIComponent).join("/")}`, target: "_blank", rel: "noopener" }, d.source)),
      el("td", { lang: d.language }, d.title || "—"),
      el("td", {}, d.language),
      el("td", { class: "num" }, String(d.chunks)),
      el("td", {}, formatTime(d.indexed_at)),
      el("td", {}, d.tags.length ? d.tags.map((t) => el("span", { class: "tag" }, t)) : "—"),
    ),
  );
  $("documents").tBodies[0].replaceChildren(...rows);
  const count = body.documents.length;
  $("docs-summary").textContent = body.index_version
    ? `${count} document${count === 1 ? "" : "s"} · index version ${body.index_version}`
    : "Nothing indexed yet";
}

async function loadFailures() {
  const body = await requestJson("/v1/manage/failures");
  const rows = body.failures.map((f) =>
    el("tr", {}, el("td", {}, f.source), el("td", {}, el("span", { class: "reason" }, f.reason)), el("td", {}, f.message)),
  );
  $("failures").tBodies[0].replaceChildren(...rows);
  $("failures").hidden = rows.length === 0;
  $("no-failures").hidden = rows.length > 0;
}

async function loadGaps() {
  const body = await requestJson("/v1/manage/gaps?limit=100");
  const rows = body.gaps.map((g) =>
    el(
      "tr",
      {},
      el("td", {}, el("a", { href: `/?q=${encodeURIComponent(g.question)}`, target: "_blank", rel: "noopener" }, g.question)),
      el("td", { class: "num" }, String(g.count)),
      el("td", { class: "num" }, String(g.not_found)),
      el("td", { class: "num" }, String(g.thumbs_down)),
      el("td", {}, formatTime(g.last_seen)),
      el("td", {}, g.comments.length ? g.comments.join(" · ") : "—"),
    ),
  );
  $("gaps").tBodies[0].replaceChildren(...rows);
  $("gaps").hidden = rows.length === 0;
  $("no-gaps").hidden = rows.length > 0;
}

// ---- sources --------------------------------------------------------------------------------

const SOURCE_STATES = { never: "Never run", running: "Syncing…", ok: "OK", partial: "Some items failed", failed: "Failed" };
let sourcePolling = null;

function changes(run) {
  if (!run) return "—";
  const parts = [
    [run.added, "added"],
    [run.updated, "updated"],
    [run.removed, "removed"],
    [run.failed, "failed"],
  ]
    .filter(([n]) => n > 0)
    .map(([n, what]) => `${n} ${what}`);
  return parts.length ? parts.join(", ") : `no changes (${run.unchanged} unchanged)`;
}

async function runSource(name, button) {
  button.disabled = true;
  try {
    await requestJson(`/v1/manage/sources/${encodeURIComponent(name)}/run`, { method: "POST" });
  } catch (error) {
    if (!(error instanceof ApiProblem && error.status === 409)) showError(error);
  }
  await loadSources();
}

async function loadSources() {
  const body = await requestJson("/v1/manage/sources");
  const rows = body.sources.map((s) => {
    const run = s.last_run;
    const state = el("span", { class: `state ${s.state === "ok" ? "done" : s.state}`, "data-state": s.state }, SOURCE_STATES[s.state] || s.state);
    const last = run ? el("span", { title: run.error || "" }, `${formatTime(run.finished_at)} · ${run.seconds.toFixed(1)} s`) : "—";
    const button = el("button", { type: "button", class: "secondary", "data-source": s.name, disabled: body.running !== null }, "Sync now");
    button.addEventListener("click", () => runSource(s.name, button));
    return el(
      "tr",
      {},
      el("td", {}, el("strong", {}, s.name), " ", el("span", { class: "tag" }, s.kind)),
      el("td", {}, state, run && run.error ? el("div", { class: "quiet" }, run.error) : null),
      el("td", { class: "num" }, String(s.items)),
      el("td", {}, last),
      el("td", {}, changes(run)),
      el("td", {}, s.next_run ? formatTime(s.next_run) : s.schedule),
      el("td", {}, button),
    );
  });
  $("sources").tBodies[0].replaceChildren(...rows);
  $("sources").hidden = rows.length === 0;
  $("no-sources").hidden = rows.length > 0;
  $("sources-summary").textContent = body.running ? `Syncing ${body.running}…` : "";
  const failures = body.sources.flatMap((s) =>
    s.failures.map((f) => el("tr", {}, el("td", {}, s.name), el("td", {}, f.source), el("td", {}, el("span", { class: "reason" }, f.reason)), el("td", {}, f.message))),
  );
  $("source-failures-table").tBodies[0].replaceChildren(...failures);
  $("source-failures").hidden = failures.length === 0;
  if (sourcePolling) clearTimeout(sourcePolling);
  sourcePolling = null;
  if (body.running) {
    sourcePolling = setTimeout(async () => {
      try {
        await loadSources();
        if (!sourcePolling) await Promise.all([loadDocuments(), loadFailures()]);
      } catch (error) {
        showError(error);
      }
    }, POLL_MS * 2);
  }
}

async function refreshAll() {
  try {
    await Promise.all([loadDocuments(), loadFailures(), loadGaps(), loadSources()]);
    showError("");
  } catch (error) {
    showError(error);
  }
}

// ---- upload ---------------------------------------------------------------------------------

async function upload(event) {
  event.preventDefault();
  const files = $("files").files;
  if (!files.length) {
    say("upload-status", "Choose one or more files first.", false);
    return;
  }
  const form = new FormData();
  for (const file of files) form.append("files", file, file.name);
  $("upload-button").disabled = true;
  say("upload-status", "Uploading…");
  try {
    const body = await requestJson("/v1/manage/upload", { method: "POST", body: form });
    const names = body.saved.map((s) => s.source + (s.replaced ? " (replaced)" : "")).join(", ");
    say("upload-status", `Uploaded ${names}. Re-index to make ${body.saved.length === 1 ? "it" : "them"} searchable.`, true);
    $("upload-form").reset();
  } catch (error) {
    say("upload-status", error instanceof ApiProblem ? error.message : "The upload failed.", false);
  } finally {
    $("upload-button").disabled = false;
  }
}

// ---- re-index -------------------------------------------------------------------------------

const STATE_LABELS = { idle: "Idle", running: "Running…", done: "Done", failed: "Failed" };

function summary(report) {
  const parts = [
    [report.added.length, "added"],
    [report.updated.length, "updated"],
    [report.removed.length, "removed"],
    [report.failed.length, "failed"],
  ]
    .filter(([n]) => n > 0)
    .map(([n, what]) => `${n} ${what}`);
  const changes = parts.length ? parts.join(", ") : "no changes";
  return `Index ${report.index_version}: ${changes}; ${report.chunks} chunks in the index.`;
}

function renderIngest(status) {
  const label = $("ingest-state");
  label.textContent = STATE_LABELS[status.state] || status.state;
  label.className = `state ${status.state}`;
  label.dataset.state = status.state;
  $("reindex").disabled = status.state === "running";
  $("progress").hidden = status.state === "idle";
  for (const [stage, { done, total }] of Object.entries(status.stages)) {
    const bar = $(`progress-${stage}`);
    if (!bar) continue;
    bar.max = Math.max(total, 1);
    bar.value = Math.min(done, bar.max);
    $(`count-${stage}`).textContent = `${done} / ${total}`;
  }
  if (status.state === "done" && status.report) say("ingest-report", summary(status.report), true);
  else if (status.state === "failed") say("ingest-report", `Re-index failed: ${status.error}`, false);
  else say("ingest-report", "");
}

async function poll() {
  try {
    const status = await requestJson("/v1/manage/ingest");
    renderIngest(status);
    if (status.state === "running") {
      polling = setTimeout(poll, POLL_MS);
      return;
    }
    polling = null;
    if (status.state === "done") await refreshAll();
  } catch (error) {
    showError(error);
    polling = setTimeout(poll, POLL_MS * 4);
  }
}

async function reindex() {
  $("reindex").disabled = true;
  try {
    renderIngest(await requestJson("/v1/manage/ingest", { method: "POST" }));
  } catch (error) {
    if (!(error instanceof ApiProblem && error.status === 409)) {
      showError(error);
      $("reindex").disabled = false;
      return;
    }
  }
  if (polling) clearTimeout(polling);
  poll();
}

async function init() {
  $("upload-form").addEventListener("submit", upload);
  $("reindex").addEventListener("click", reindex);
  document.addEventListener("assistant:signed-in", refreshAll);
  await initKeyBox();
  refreshAll();
  requestJson("/v1/manage/ingest")
    .then((status) => {
      renderIngest(status);
      if (status.state === "running") poll();
    })
    .catch(showError);
}

init();
