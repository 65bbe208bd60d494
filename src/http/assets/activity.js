// The Activity section: today at a glance, finding incidents, and the messages that need a person.

import { api } from "./api.js";
import { badge, dataTable, empty, field, h, loadingText } from "./dom.js";
import { channelLabel, deliveryTone, eventLabel, plural, statusBadge, timeEl } from "./format.js";
import { mount } from "./page.js";
import { incidentHash } from "./router.js";
import { state } from "./state.js";
import { flash, report } from "./toast.js";

export async function viewActivity() {
  const tiles = h("section", { class: "tiles-section", id: "overview", "aria-label": "Today at a glance" }, loadingText());
  const results = h("section", { id: "incident-results", "aria-labelledby": "results-heading" });
  const query = h("input", { id: "search-query", type: "search", autocomplete: "off", value: state.activityQuery });
  const form = h(
    "form",
    { id: "search", class: "search-form", role: "search" },
    field("Find an order or a customer", query, "Order number, customer id, email address or phone number."),
    h(
      "div",
      { class: "actions" },
      h("button", { type: "submit" }, "Search"),
      h("button", { type: "button", class: "button-quiet", id: "search-clear", onclick: clearSearch }, "Show recent"),
    ),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    state.activityQuery = query.value.trim();
    loadIncidents(results, true);
  });
  function clearSearch() {
    query.value = "";
    state.activityQuery = "";
    loadIncidents(results, true);
    query.focus();
  }
  mount(
    h(
      "div",
      { class: "page" },
      h("h1", {}, "Activity"),
      h("p", { class: "lead" }, "Every order that went wrong, what amends decided, and what the customer received."),
      tiles,
      form,
      results,
    ),
    "Activity",
  );
  loadOverview(tiles);
  loadIncidents(results, false);
}

async function loadOverview(tiles) {
  try {
    const o = await api("GET", "/api/overview");
    if (!tiles.isConnected) return;
    tiles.replaceChildren(
      h("h2", { class: "visually-hidden" }, "Today at a glance"),
      h(
        "dl",
        { class: "tiles" },
        tile("Incidents today", o.incidents_today),
        tile("Messages sent today", o.messages_sent_today),
        tile("Messages failed", o.messages_failed, o.messages_failed > 0 ? "bad" : null, null, "#/messages/failed"),
        tile("Outcome unknown", o.messages_unknown, o.messages_unknown > 0 ? "warn" : null,
          o.messages_unknown > 0 ? "Check with the provider before anyone resends." : null, "#/messages/unknown"),
        tile("Open escalations", o.open_escalations, o.open_escalations > 0 ? "warn" : null, null, "#/escalations"),
      ),
    );
  } catch (err) {
    if (err.handled || !tiles.isConnected) return;
    tiles.replaceChildren(h("p", { class: "form-error" }, `Today's numbers could not be loaded: ${err.message}`));
  }
}

// Messages a person should look at: failed for good, or sent with no answer from the provider.
export async function viewAttention(route) {
  const unknown = route.status === "unknown";
  const title = unknown ? "Messages with an unknown outcome" : "Messages that failed";
  const lead = unknown
    ? "The provider took these messages but never answered, so nobody knows whether the customer got them. amends does not resend them by itself, to avoid writing twice: check with the provider, then decide."
    : "These messages could not be sent on any provider, for good. Each incident shows every attempt and why it failed.";
  const list = h("div", { id: "attention-list" }, loadingText());
  mount(h("div", { class: "page" }, h("h1", {}, title), h("p", { class: "lead" }, lead), list), title);
  try {
    const data = await api("GET", `/api/messages?status=${route.status}&limit=100`);
    if (!list.isConnected) return;
    const rows = data?.messages ?? [];
    list.replaceChildren(
      rows.length
        ? dataTable({
            caption: `${title}, newest first`,
            id: "attention",
            rows,
            columns: [
              { label: "Incident", rowHeader: true, cell: (m) => h("a", { href: incidentHash(m.incident_id) }, `${eventLabel(m.event_type)} · ${m.order_id}`) },
              { label: "When", cell: (m) => timeEl(m.updated_at) },
              { label: "Channel", cell: (m) => `${channelLabel(m.channel)} to ${m.recipient}` },
              { label: "Provider", cell: (m) => m.provider ?? "—" },
              { label: "Attempts", cell: (m) => m.attempts },
              { label: "What went wrong", cell: (m) => m.last_error ?? "—" },
            ],
          })
        : empty(unknown ? "No message has an unknown outcome." : "No message has failed."),
    );
  } catch (err) {
    if (err.handled || !list.isConnected) return;
    list.replaceChildren(h("p", { class: "form-error" }, `The messages could not be loaded: ${err.message}`));
  }
}

function tile(label, value, tone, hint, href) {
  const term = href ? h("a", { href }, label) : label;
  return h(
    "div",
    { class: `tile${tone ? ` tile-${tone}` : ""}` },
    h("dt", {}, term),
    h("dd", { class: "tile-value" }, value ?? "—"),
    hint ? h("dd", { class: "tile-hint" }, hint) : null,
  );
}

// Incidents come a page at a time, newest first; "Show older" asks for those before the last.
const PAGE = 50;

async function loadIncidents(results, announce) {
  const query = state.activityQuery;
  const seq = ++state.searchSeq;
  const heading = h("h2", { id: "results-heading" }, query ? "Search results" : "Recent incidents");
  const none = query
    ? "Nothing found. Check the order number, customer id, email or phone, and try again."
    : "No incidents yet. When an order goes wrong, it shows up here.";
  const shown = [];
  results.replaceChildren(heading, loadingText());

  async function page(before) {
    const data = query
      ? await api("POST", "/api/incidents/search", { query, limit: PAGE, before })
      : await api("GET", `/api/incidents?limit=${PAGE}${before ? `&before=${encodeURIComponent(before)}` : ""}`);
    return data?.incidents ?? [];
  }

  function draw(more) {
    const older = h("button", { type: "button", class: "button-secondary", id: "incidents-more" }, "Show older incidents");
    older.addEventListener("click", async () => {
      older.disabled = true;
      try {
        const next = await page(shown[shown.length - 1].incident_id);
        if (seq !== state.searchSeq || !results.isConnected) return;
        shown.push(...next);
        draw(next.length === PAGE);
        flash(next.length ? `${plural(next.length, "older incident")} shown.` : "There are no older incidents.", "info");
      } catch (err) {
        older.disabled = false;
        if (!err.handled) report(err, "Older incidents could not be loaded");
      }
    });
    results.replaceChildren(
      heading,
      shown.length ? incidentsTable(shown) : empty(none),
      more ? h("div", { class: "actions" }, older) : null,
    );
  }

  try {
    const first = await page(null);
    if (seq !== state.searchSeq || !results.isConnected) return;
    shown.push(...first);
    draw(first.length === PAGE);
    if (announce) flash(query ? `${plural(first.length, "incident")} found.` : "Showing recent incidents.", "info");
  } catch (err) {
    if (err.handled || seq !== state.searchSeq || !results.isConnected) return;
    results.replaceChildren(heading, h("p", { class: "form-error" }, `Incidents could not be loaded: ${err.message}`));
  }
}

function incidentsTable(list) {
  return dataTable({
    caption: "Incidents, newest first",
    id: "incidents",
    className: "incidents-table",
    rows: list,
    columns: [
      { label: "What happened", rowHeader: true, cell: (i) => h("a", { href: incidentHash(i.incident_id) }, eventLabel(i.event_type)) },
      { label: "When", cell: (i) => timeEl(i.created_at) },
      { label: "Order", cell: (i) => i.order_id ?? "—" },
      { label: "Customer", cell: customerCell },
      { label: "Decision", cell: decisionCell },
      { label: "Messages", cell: (i) => messagesCell(i.messages) },
    ],
  });
}

function customerCell(i) {
  return h(
    "div",
    { class: "stack" },
    h("span", {}, i.customer_name ?? i.customer_id ?? "—"),
    i.customer_name && i.customer_id ? h("span", { class: "muted" }, i.customer_id) : null,
    i.email ? h("span", { class: "muted contact" }, i.email) : null,
    i.phone ? h("span", { class: "muted contact" }, i.phone) : null,
  );
}

function decisionCell(i) {
  const parts = [
    i.rule ? h("span", {}, i.rule) : null,
    i.escalated ? badge("escalated", "warn") : null,
    i.coalesced ? h("span", { class: "muted" }, `Combined: ${i.coalesced}`) : null,
    i.unreachable ? h("span", { class: "muted" }, `Unreachable: ${i.unreachable}`) : null,
  ].filter(Boolean);
  return parts.length ? h("div", { class: "stack" }, parts) : "—";
}

function messagesCell(messages) {
  if (!messages?.length) return h("span", { class: "muted" }, "None");
  return h(
    "ul",
    { class: "plain" },
    messages.map((m) =>
      h(
        "li",
        {},
        `${channelLabel(m.channel)} `,
        statusBadge(m.status, m.scheduled_until),
        m.delivery_status ? [" ", badge(m.delivery_status, deliveryTone(m.delivery_status))] : null,
      ),
    ),
  );
}
