// Builds the uploadable app: app/ plus the shared renderer and the ZAF SDK bundled from the npm package
// (no CDN), the server's domain in domainWhitelist, checked offline, then zipped with zcli's own packager.
// Usage: node scripts/build.mjs --domain assistant.example.com [--out dist]
import fs from "node:fs";
import path from "node:path";
import { createRequire } from "node:module";
import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { buildSync } from "esbuild";
import { validateApp } from "./validate.mjs";

const require = createRequire(import.meta.url);
const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, "..");
const HOST = /^(\*\.)?[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*$/;

function option(name, fallback) {
  const at = process.argv.indexOf(`--${name}`);
  return at > 0 && process.argv[at + 1] ? process.argv[at + 1] : fallback;
}

const domain = option("domain", process.env.ASSISTANT_DOMAIN || "");
if (!HOST.test(domain)) {
  console.error("Give the assistant server's host name: node scripts/build.mjs --domain assistant.example.com");
  process.exit(2);
}
const out = path.resolve(option("out", path.join(root, "dist")));

fs.rmSync(out, { recursive: true, force: true });
fs.cpSync(path.join(root, "app"), out, { recursive: true });
fs.copyFileSync(path.join(root, "..", "shared", "suggestions.js"), path.join(out, "assets", "suggestions.js"));
// The SDK ships as CommonJS sources; bundled, it defines the global ZAFClient its docs describe.
buildSync({
  entryPoints: [require.resolve("zendesk_app_framework_sdk")],
  bundle: true,
  format: "iife",
  globalName: "ZAFClient",
  target: "es2017",
  outfile: path.join(out, "assets", "zaf_sdk.js"),
  logLevel: "error",
});
const manifestFile = path.join(out, "manifest.json");
const manifest = JSON.parse(fs.readFileSync(manifestFile, "utf8"));
manifest.domainWhitelist = [domain];
fs.writeFileSync(manifestFile, JSON.stringify(manifest, null, 2) + "\n");

const { errors, warnings } = validateApp(out);
for (const warning of warnings) console.warn(`warning: ${warning}`);
if (errors.length) {
  for (const error of errors) console.error(`error: ${error}`);
  process.exit(1);
}
const { createAppPkg } = require("@zendesk/zcli-apps/dist/lib/package");
const zip = await createAppPkg(out);
// With a Zendesk account configured, Zendesk's own validator checks the package as well.
if (process.env.ZENDESK_SUBDOMAIN && (process.env.ZENDESK_API_TOKEN || process.env.ZENDESK_OAUTH_TOKEN)) {
  execFileSync(path.join(root, "node_modules", ".bin", "zcli"), ["apps:validate", out], { stdio: "inherit" });
}
console.log(`Built ${path.relative(process.cwd(), out) || "."}; package ${path.relative(process.cwd(), zip)}`);
