// Plays Zendesk's side of the ZAF v2 postMessage protocol for one ticket_sidebar app, as the SDK in
// zendesk_app_framework_sdk speaks it: the handshake, get/invoke by id, and request:N through a proxy.
// The test calls harness.start(config); window.zendeskProxy is the test's server-side "Zendesk proxy".
window.harness = {
  gets: [],
  inserts: [],
  requests: [],
  subscriptions: [],
  start(config) {
    this.config = config;
    const frame = document.createElement("iframe");
    frame.id = "app";
    frame.width = "340";
    frame.height = "900";
    const appOrigin = new URL(config.appUrl).origin;
    frame.src = `${config.appUrl}?origin=${encodeURIComponent(location.origin)}&app_guid=harness-app-guid`;
    const post = (message) => frame.contentWindow.postMessage(JSON.stringify(message), appOrigin);

    window.addEventListener("message", async (event) => {
      if (event.source !== frame.contentWindow || event.origin !== appOrigin) return;
      const message = JSON.parse(event.data);
      if (message.key === "iframe.handshake") {
        post({
          key: "zaf.app.registered",
          message: {
            context: { product: "support", location: "ticket_sidebar", instanceGuid: "harness-app-guid" },
            // Zendesk never sends secure settings to the browser.
            metadata: { appId: 1, installationId: 2, name: "Knowledge assistant", settings: config.settings },
          },
        });
      } else if (message.key && message.key.startsWith("iframe.on:")) {
        this.subscriptions.push(message.key.slice("iframe.on:".length));
      } else if (message.request === "get") {
        this.gets.push(message.params);
        const result = { errors: {} };
        for (const path of message.params) {
          if (path in config.ticket) result[path] = config.ticket[path];
          else result.errors[path] = { name: "Error", message: `No such property: ${path}` };
        }
        post({ id: message.id, result });
      } else if (message.request === "invoke") {
        for (const [action, args] of Object.entries(message.params)) {
          if (action === "ticket.editor.insert") this.inserts.push(args[0]);
        }
        post({ id: message.id, result: {} });
      } else if (message.key && message.key.startsWith("request:")) {
        this.requests.push(message.message);
        const answer = await window.zendeskProxy(message.message);
        if (answer.status >= 200 && answer.status < 300) {
          post({ key: `zaf.${message.key}.done`, message: { responseArgs: [JSON.parse(answer.body), "success", { status: answer.status }] } });
        } else {
          let json = null;
          try { json = JSON.parse(answer.body); } catch { json = null; }
          post({ key: `zaf.${message.key}.fail`, message: { responseArgs: [{ status: answer.status, responseText: answer.body, responseJSON: json }] } });
        }
      }
    });
    document.getElementById("sidebar").append(frame);
  },
};
document.body.dataset.ready = "true";
