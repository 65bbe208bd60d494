// The Templates section: every template, grouped by what went wrong, with its edit state.

import { api } from "./api.js";
import { badge, empty, h } from "./dom.js";
import { groupLabel, templateLabel, timeEl } from "./format.js";
import { mount } from "./page.js";
import { templateHash } from "./router.js";
import { state } from "./state.js";

const GROUP_ORDER = ["order-delayed", "order-cancelled", "order-stockout"];
const KIND_ORDER = ["email", "email_text", "sms", "layout", "partial", "partial_text"];

function groupRank(group) {
  const index = GROUP_ORDER.indexOf(group);
  if (index >= 0) return index;
  if (group === "partials") return 100;
  if (group === "layouts") return 101;
  return 50;
}

function groupTemplates(templates) {
  const groups = new Map();
  for (const t of templates) {
    if (!groups.has(t.group)) groups.set(t.group, []);
    groups.get(t.group).push(t);
  }
  for (const items of groups.values()) {
    items.sort(
      (a, b) =>
        KIND_ORDER.indexOf(a.kind) - KIND_ORDER.indexOf(b.kind) ||
        String(a.file).localeCompare(String(b.file)) ||
        String(a.locale ?? "").localeCompare(String(b.locale ?? "")),
    );
  }
  return [...groups.entries()].sort(([a], [b]) => groupRank(a) - groupRank(b) || a.localeCompare(b));
}

const GROUP_HINTS = {
  partials: "Pieces that several templates include, such as the greeting or the sign-off. A change here shows up in every template that uses it.",
  layouts: "The frame around every email: the header, the colours and the footer.",
};

export async function viewTemplates(route, isCurrent) {
  const data = await api("GET", "/api/templates");
  if (!isCurrent()) return;
  state.meta = data;
  const groups = groupTemplates(data.templates ?? []);
  mount(
    h(
      "div",
      { class: "page" },
      h("h1", {}, "Templates"),
      h("p", { class: "lead" }, "The words customers receive, by what went wrong, channel and language. Open one to edit it and preview it with an example order. Nothing changes for customers until you publish."),
      groups.length ? groups.map(([group, items]) => templateGroup(group, items)) : empty("No templates were found."),
    ),
    "Templates",
  );
}

function templateGroup(group, items) {
  const headingId = `group-${group}`;
  return h(
    "section",
    { class: "template-group", "aria-labelledby": headingId },
    h("h2", { id: headingId }, groupLabel(group)),
    GROUP_HINTS[group] ? h("p", { class: "muted" }, GROUP_HINTS[group]) : null,
    h("ul", { class: "template-list" }, items.map(templateItem)),
  );
}

function templateItem(t) {
  return h(
    "li",
    { class: "template-item" },
    h("a", { href: templateHash(t.group, t.file), class: "template-link" }, templateLabel(t)),
    h("span", { class: "template-file" }, t.file),
    h(
      "span",
      { class: "badges" },
      t.published_version != null ? badge(`edited v${t.published_version}`, "info") : null,
      t.draft_version != null ? badge("draft", "warn") : null,
    ),
    t.updated_at ? h("span", { class: "muted template-updated" }, "changed ", timeEl(t.updated_at)) : null,
  );
}
