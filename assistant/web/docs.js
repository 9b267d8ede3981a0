// Starts Swagger UI on /openapi.json from a file, so /docs runs no inline script.
// "Try it out" uses the panel's session when there is one: state-changing calls carry its CSRF token.
let csrfToken = "";

fetch("/v1/session", { headers: { Accept: "application/json" } })
  .then((response) => (response.ok ? response.json() : {}))
  .then((session) => {
    csrfToken = session.csrf_token || "";
  })
  .catch(() => {});

window.SwaggerUIBundle({
  url: "/openapi.json",
  dom_id: "#swagger-ui",
  layout: "BaseLayout",
  deepLinking: true,
  presets: [window.SwaggerUIBundle.presets.apis],
  requestInterceptor: (request) => {
    if (csrfToken && !["GET", "HEAD"].includes((request.method || "GET").toUpperCase())) {
      request.headers["X-CSRF-Token"] = csrfToken;
    }
    return request;
  },
});
