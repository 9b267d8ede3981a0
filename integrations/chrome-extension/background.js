// The service worker: the toolbar button opens the side panel; "Ask the knowledge base" on selected
// text opens it with that text as the question.
const MENU_ID = "ask-knowledge-base";
const PENDING = "pendingQuestion";

chrome.runtime.onInstalled.addListener(() => {
  chrome.contextMenus.create({ id: MENU_ID, title: "Ask the knowledge base", contexts: ["selection"] });
});

chrome.sidePanel.setPanelBehavior({ openPanelOnActionClick: true }).catch(() => {});

/** Hands the selection to the panel through extension-private session storage, then opens the panel. */
async function askFromSelection(info, tab) {
  const question = (info.selectionText || "").trim();
  if (info.menuItemId !== MENU_ID || !question) return false;
  // sidePanel.open must run inside the click's user gesture, so it starts before any await.
  const opening = tab && tab.windowId !== undefined
    ? chrome.sidePanel.open({ windowId: tab.windowId }).catch((error) => console.warn("side panel:", error.message))
    : Promise.resolve();
  // A new id each time, so asking the same words twice still reaches an open panel.
  await chrome.storage.session.set({ [PENDING]: { question, id: crypto.randomUUID() } });
  await opening;
  return true;
}

chrome.contextMenus.onClicked.addListener((info, tab) => {
  askFromSelection(info, tab);
});

// Tests reach the handler through the service worker's global scope.
self.askFromSelection = askFromSelection;
