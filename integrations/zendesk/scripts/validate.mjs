// Offline checks of a built Zendesk app folder: the rules Zendesk's own validator (zendesk_apps_support)
// applies to manifest, locations, parameters and translations, plus what this app needs at run time.
// `zcli apps:validate` sends the package to a Zendesk account's API, so it needs a login and network.
import fs from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";

const LOCALE = /^[a-z]{2}(-\w{2,3})?$/;
const PARAMETER_TYPES = ["text", "password", "checkbox", "url", "number", "multiline", "hidden"];
const LOCATIONS = {
  support: [
    "top_bar", "nav_bar", "ticket_sidebar", "new_ticket_sidebar", "user_sidebar", "organization_sidebar",
    "background", "modal", "ticket_editor", "system_top_bar", "ticket_module",
  ],
  chat: ["chat_sidebar", "background"],
  standalone_chat: ["nav_bar", "system_top_bar"],
  sell: ["top_bar", "person_card", "deal_card", "lead_card", "note_editor", "call_log_editor", "email_editor", "background"],
};

function readJson(file, errors, label) {
  try {
    return JSON.parse(fs.readFileSync(file, "utf8"));
  } catch (error) {
    errors.push(`${label} is not valid JSON: ${error.message}`);
    return null;
  }
}

function checkLocations(manifest, appDir, errors) {
  const products = manifest.location && typeof manifest.location === "object" ? manifest.location : {};
  if (Object.keys(products).length === 0) errors.push("manifest: location is missing");
  for (const [product, locations] of Object.entries(products)) {
    if (!LOCATIONS[product]) {
      errors.push(`manifest: unknown product "${product}" in location`);
      continue;
    }
    for (const [name, options] of Object.entries(locations || {})) {
      if (!LOCATIONS[product].includes(name)) errors.push(`manifest: unknown ${product} location "${name}"`);
      const url = typeof options === "string" ? options : options && options.url;
      if (typeof url !== "string" || !url) {
        errors.push(`manifest: location ${name} has no url`);
      } else if (/^[a-z]+:/i.test(url)) {
        const parsed = new URL(url);
        if (parsed.protocol !== "https:" && parsed.hostname !== "localhost") {
          errors.push(`manifest: location ${name} url must be https: ${url}`);
        }
      } else if (!url.startsWith("assets/") || !fs.existsSync(path.join(appDir, url))) {
        errors.push(`manifest: location ${name} url ${url} is not a file under assets/`);
      }
      if (options && options.flexible !== undefined && typeof options.flexible !== "boolean") {
        errors.push(`manifest: location ${name} flexible must be true or false`);
      }
    }
  }
}

function checkParameters(manifest, errors, warnings) {
  const parameters = manifest.parameters === undefined ? [] : manifest.parameters;
  if (!Array.isArray(parameters)) {
    errors.push("manifest: parameters must be an array");
    return;
  }
  const names = parameters.map((p) => p.name);
  const duplicates = names.filter((n, i) => names.indexOf(n) !== i);
  if (duplicates.length) errors.push(`manifest: duplicate parameters ${duplicates.join(", ")}`);
  for (const p of parameters) {
    if (typeof p.name !== "string" || !p.name) errors.push("manifest: a parameter has no name");
    if (p.name === "name") errors.push('manifest: a parameter may not be called "name"');
    if (!PARAMETER_TYPES.includes(p.type || "text")) errors.push(`manifest: parameter ${p.name} has type ${p.type}`);
    for (const flag of ["required", "secure"]) {
      if (p[flag] !== undefined && typeof p[flag] !== "boolean") {
        errors.push(`manifest: parameters.${p.name}.${flag} must be true or false`);
      }
    }
    if (p.type === "hidden" && p.required) errors.push(`manifest: hidden parameter ${p.name} cannot be required`);
    if (p.secure && "default" in p) warnings.push(`manifest: secure parameter ${p.name} has a default`);
    if (p.secure && !(Array.isArray(p.scopes) && p.scopes.length)) warnings.push(`manifest: secure ${p.name} has no scopes`);
    if (!p.secure && /token|key|pwd|password/i.test(p.name) && ["text", "password"].includes(p.type || "text")) {
      warnings.push(`manifest: parameter ${p.name} looks secret but is not secure`);
    }
  }
  // Zendesk's proxy inserts a secure setting only into requests to a domain the manifest lists.
  const whitelist = manifest.domainWhitelist;
  if (whitelist !== undefined && !(Array.isArray(whitelist) && whitelist.every((d) => typeof d === "string"))) {
    errors.push("manifest: domainWhitelist must be an array of strings");
  } else if (parameters.some((p) => p.secure) && !(whitelist && whitelist.length)) {
    errors.push("manifest: secure settings need the server's domain in domainWhitelist (build with --domain)");
  }
}

function checkTranslations(manifest, appDir, errors) {
  const dir = path.join(appDir, "translations");
  const files = fs.existsSync(dir) ? fs.readdirSync(dir).filter((f) => f.endsWith(".json")) : [];
  for (const file of files) {
    if (!LOCALE.test(file.replace(/\.json$/, ""))) errors.push(`translations/${file}: not a locale name`);
    const json = readJson(path.join(dir, file), errors, `translations/${file}`);
    if (json !== null && (typeof json !== "object" || Array.isArray(json))) {
      errors.push(`translations/${file} is not a JSON object`);
    }
  }
  if (typeof manifest.defaultLocale !== "string" || !LOCALE.test(manifest.defaultLocale)) {
    errors.push(`manifest: defaultLocale ${manifest.defaultLocale} is not a locale`);
  } else if (!files.includes(`${manifest.defaultLocale}.json`)) {
    errors.push(`translations/${manifest.defaultLocale}.json (the default locale) is missing`);
  } else {
    const json = readJson(path.join(dir, `${manifest.defaultLocale}.json`), [], "");
    const required = manifest.private ? ["name"] : ["name", "short_description", "installation_instructions", "long_description"];
    const missing = required.filter((key) => !(json && json.app && key in json.app));
    if (missing.length) errors.push(`translations/${manifest.defaultLocale}.json lacks app.${missing.join(", app.")}`);
  }
}

/** Every script and stylesheet an HTML asset loads must be in the package: nothing comes from a CDN. */
function checkAssets(appDir, errors, warnings) {
  const assets = path.join(appDir, "assets");
  for (const file of fs.existsSync(assets) ? fs.readdirSync(assets) : []) {
    const text = fs.readFileSync(path.join(assets, file), "utf8");
    if (file.endsWith(".html")) {
      for (const [, ref] of text.matchAll(/(?:src|href)="([^"]+)"/g)) {
        if (/^[a-z]+:|^\/\//i.test(ref)) errors.push(`assets/${file} loads ${ref} from outside the package`);
        else if (!fs.existsSync(path.join(assets, ref))) errors.push(`assets/${file} loads ${ref}, which is missing`);
      }
    }
    if (file.endsWith(".js")) {
      for (const [, ref] of text.matchAll(/\bfrom\s+"(\.\/[^"]+)"/g)) {
        if (!fs.existsSync(path.join(assets, ref))) errors.push(`assets/${file} imports ${ref}, which is missing`);
      }
    }
    if (/\.(js|html)$/.test(file) && /["'`]http:\/\/(?!localhost|127\.0\.0\.1)/.test(text)) {
      warnings.push(`assets/${file} requests a plain http:// URL`);
    }
  }
}

/** {errors, warnings} for the app folder `appDir`. */
export function validateApp(appDir) {
  const errors = [];
  const warnings = [];
  const file = path.join(appDir, "manifest.json");
  if (!fs.existsSync(file)) return { errors: ["manifest.json is missing"], warnings };
  const manifest = readJson(file, errors, "manifest.json");
  if (!manifest) return { errors, warnings };
  const author = manifest.author;
  if (!author || typeof author.name !== "string" || typeof author.email !== "string") {
    errors.push("manifest: author needs a name and an email");
  }
  if (manifest.frameworkVersion !== "2.0") errors.push(`manifest: frameworkVersion must be "2.0"`);
  for (const key of ["private", "singleInstall", "signedUrls", "requirementsOnly"]) {
    if (manifest[key] !== undefined && typeof manifest[key] !== "boolean") errors.push(`manifest: ${key} must be boolean`);
  }
  checkLocations(manifest, appDir, errors);
  checkParameters(manifest, errors, warnings);
  checkTranslations(manifest, appDir, errors);
  checkAssets(appDir, errors, warnings);
  return { errors, warnings };
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { errors, warnings } = validateApp(path.resolve(process.argv[2] || "dist"));
  for (const warning of warnings) console.warn(`warning: ${warning}`);
  for (const error of errors) console.error(`error: ${error}`);
  if (errors.length) process.exit(1);
  console.log("No validation errors");
}
