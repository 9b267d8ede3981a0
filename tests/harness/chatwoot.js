// Plays Chatwoot's side of a dashboard app as DashboardApp/Frame.vue does: on the frame's load and on each
// 'chatwoot-dashboard-app:fetch-info' it posts JSON.stringify({event: 'appContext', data}) with target '*'.
window.harness = {
  fetches: 0,
  loads: 0,
  start(config) {
    this.context = config.context;
    const frame = document.createElement("iframe");
    frame.id = "app";
    frame.width = "400";
    frame.height = "900";
    // A null context plays a dashboard that has not posted yet: the test sends messages itself.
    const send = () => {
      if (this.context) frame.contentWindow.postMessage(JSON.stringify({ event: "appContext", data: this.context }), "*");
    };
    this.send = send;
    frame.addEventListener("load", () => {
      this.loads += 1;
      send();
    });
    window.addEventListener("message", (event) => {
      if (event.source !== frame.contentWindow) return;
      if (typeof event.data === "string" && event.data === "chatwoot-dashboard-app:fetch-info") {
        this.fetches += 1;
        send();
      }
    });
    frame.src = config.appUrl;
    document.getElementById("apps").append(frame);
  },
};
document.body.dataset.ready = "true";
