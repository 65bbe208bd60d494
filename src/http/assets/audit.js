// The Audit section: who did what in the console and the API, newest first, filtered by person
// or action, a page at a time.

import { api } from "./api.js";
import { dataTable, empty, field, h, loadingText, selectBox } from "./dom.js";
import { timeEl } from "./format.js";
import { mount } from "./page.js";

const ACTIONS = [
  ["", "Every action"],
  ["sign_in", "Signed in"],
  ["sign_in.refused", "Sign-in refused"],
  ["sign_out", "Signed out"],
  ["sign_out.everywhere", "Signed out everywhere"],
  ["template.draft_saved", "Draft saved"],
  ["template.draft_discarded", "Draft discarded"],
  ["template.publish", "Template published"],
  ["template.rollback", "Template restored"],
  ["template.test_sent", "Test message sent"],
  ["dead_letters.replay", "Dead letters replayed"],
  ["escalation.handle", "Escalation handled"],
  ["suppression.add", "Suppression added"],
  ["suppression.lift", "Suppression lifted"],
];

const LABELS = Object.fromEntries(ACTIONS.filter(([value]) => value));

function detailText(detail) {
  if (!detail || typeof detail !== "object") return "";
  return Object.entries(detail)
    .filter(([, value]) => value !== null && value !== undefined && value !== "")
    .map(([key, value]) => `${key}: ${typeof value === "object" ? JSON.stringify(value) : value}`)
    .join(", ");
}

export async function viewAudit(route, isCurrent) {
  const actor = h("input", { id: "audit-actor", type: "search", autocomplete: "off" });
  const action = selectBox("audit-action", ACTIONS.map(([value, label]) => ({ value, label })), "");
  const list = h("div", { id: "audit-list" }, loadingText());
  const more = h("button", { type: "button", id: "audit-more", class: "button-secondary", hidden: true }, "Older entries");
  const filters = h(
    "form",
    { class: "filters", id: "audit-filters" },
    field("Person", actor, "A name, or api for programs using the bearer token."),
    field("Action", action),
    h("div", { class: "actions" }, h("button", { type: "submit" }, "Show")),
  );
  let rows = [];
  let before = null;
  async function load(reset) {
    if (reset) {
      rows = [];
      before = null;
      list.replaceChildren(loadingText());
    }
    const params = new URLSearchParams({ limit: "100" });
    if (actor.value.trim()) params.set("actor", actor.value.trim());
    if (action.value) params.set("action", action.value);
    if (before !== null) params.set("before", String(before));
    try {
      const page = await api("GET", `/api/audit?${params}`);
      if (!list.isConnected) return;
      rows = rows.concat(page?.entries ?? []);
      before = page?.next_before ?? null;
      more.hidden = before === null;
      list.replaceChildren(
        rows.length
          ? dataTable({
              caption: "Who did what, newest first",
              id: "audit",
              rows,
              columns: [
                { label: "When", rowHeader: true, cell: (e) => timeEl(e.at) },
                { label: "Who", cell: (e) => e.actor },
                { label: "What", cell: (e) => LABELS[e.action] ?? e.action },
                { label: "On", cell: (e) => (e.subject ? h("code", {}, e.subject) : "—") },
                { label: "Details", cell: (e) => detailText(e.detail) || "—" },
                { label: "From", cell: (e) => e.client_address ?? "—" },
              ],
            })
          : empty("Nothing recorded matches."),
      );
    } catch (err) {
      if (err.handled || !list.isConnected) return;
      list.replaceChildren(h("p", { class: "form-error" }, `The audit record could not be loaded: ${err.message}`));
    }
  }
  filters.addEventListener("submit", (event) => {
    event.preventDefault();
    load(true);
  });
  more.addEventListener("click", () => load(false));
  mount(
    h(
      "div",
      { class: "page" },
      h("h1", {}, "Audit"),
      h("p", { class: "lead" }, "Who did what in the console and through the API: sign-ins, template changes, test messages, replays, escalations and suppressions. Contacts are shown masked."),
      filters,
      list,
      h("div", { class: "actions" }, more),
    ),
    "Audit",
  );
  if (isCurrent()) await load(true);
}
