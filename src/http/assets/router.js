// The hash router: the console's addresses, links to them, and drawing the view for the current one.

import { h, loadingText } from "./dom.js";
import { main, mount, updateNav } from "./page.js";
import { state } from "./state.js";
import { clearFlash } from "./toast.js";

export function incidentHash(id) {
  return `#/incidents/${encodeURIComponent(id)}`;
}

export function templateHash(group, file) {
  return `#/templates/${encodeURIComponent(group)}/${encodeURIComponent(file)}`;
}

function parseRoute(hash) {
  const path = hash.replace(/^#\/?/, "").split("?")[0];
  const parts = path.split("/").filter(Boolean).map(decodePart);
  const [first = "activity", ...rest] = parts;
  switch (first) {
    case "activity":
      return { name: "activity", section: "activity" };
    case "incidents":
      return rest[0] ? { name: "incident", section: "activity", id: rest[0] } : { name: "activity", section: "activity" };
    case "messages":
      return ["failed", "unknown"].includes(rest[0])
        ? { name: "attention", section: "activity", status: rest[0] }
        : { name: "notFound", section: null };
    case "templates":
      if (rest.length >= 2) {
        return { name: "editor", section: "templates", group: rest[0], file: rest.slice(1).join("/") };
      }
      return { name: "templates", section: "templates" };
    case "compensation":
      return { name: "compensation", section: "compensation" };
    case "escalations":
      return { name: "escalations", section: "escalations" };
    case "dead-letters":
      return { name: "deadLetters", section: "dead-letters" };
    case "suppressions":
      return { name: "suppressions", section: "suppressions" };
    case "watch":
      return { name: "watch", section: "watch" };
    case "audit":
      return { name: "audit", section: "audit" };
    default:
      return { name: "notFound", section: null };
  }
}

function decodePart(part) {
  try {
    return decodeURIComponent(part);
  } catch {
    return part;
  }
}

// The view for each route name. app.js fills it in, so that views can import render() from here
// without importing each other in a circle.
const views = {};

export function setViews(table) {
  Object.assign(views, table);
}

export async function render() {
  if (!/^#\/./.test(location.hash)) history.replaceState(null, "", "#/activity");
  state.lastHash = location.hash;
  state.unsaved = null;
  state.unsavedText = null;
  const id = ++state.renderId;
  const isCurrent = () => id === state.renderId;
  const route = parseRoute(location.hash);
  updateNav(route.section);
  main.replaceChildren(loadingText());
  try {
    await views[route.name](route, isCurrent);
  } catch (err) {
    if (isCurrent() && !err.handled) mount(loadError(err), "Problem");
  }
}

export function onHashChange() {
  if (!state.user) return;
  if (location.hash === state.lastHash) return;
  if (state.unsaved?.() && !confirm("You have unsaved changes to this template. Leave without saving them?")) {
    // Put the address back without a new render: the editor stays as it is.
    history.replaceState(null, "", state.lastHash);
    return;
  }
  clearFlash();
  render();
}

export function loadError(err) {
  return h(
    "section",
    { class: "page panel" },
    h("h1", {}, "This page could not be loaded"),
    h("p", {}, err.message),
    h("button", { type: "button", onclick: () => render() }, "Try again"),
  );
}

export function viewNotFound() {
  mount(
    h(
      "section",
      { class: "page panel" },
      h("h1", {}, "Page not found"),
      h("p", {}, "There is nothing at this address. ", h("a", { href: "#/activity" }, "Go to Activity"), "."),
    ),
    "Not found",
  );
}
