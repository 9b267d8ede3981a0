// Settings the options page writes to chrome.storage.local, which only this extension's own pages can read.
export const DEFAULTS = { server: "", key: "" };
export const PENDING = "pendingQuestion";

export async function loadConfig() {
  const stored = await chrome.storage.local.get(DEFAULTS);
  return { server: stored.server.replace(/\/+$/, ""), key: stored.key };
}

/** The origin pattern a server URL needs as a host permission, or null if it is not an http(s) URL. */
export function originPattern(server) {
  try {
    const url = new URL(server);
    if (url.protocol !== "https:" && url.protocol !== "http:") return null;
    return `${url.origin}/*`;
  } catch {
    return null;
  }
}
