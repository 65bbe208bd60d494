// The Watch section: orders whose promised delivery date amends watches, how many are in each
// state, and which ones. Held orders (found overdue over the day's cap, nothing sent) stand out:
// they wait for a person's decision.

import { api } from "./api.js";
import { badge, dataTable, empty, h, loadingText } from "./dom.js";
import { fmtDay, plural, timeEl } from "./format.js";
import { mount } from "./page.js";
import { incidentHash } from "./router.js";
import { state } from "./state.js";

// Each state: its label, the badge's tone, and what it means.
const STATES = {
  held: ["Held", "bad", "Found overdue over the day's cap: nothing was sent. A person decides."],
  overdue: ["Overdue", "warn", "Apologised for; an update is promised."],
  updated: ["Update sent", "info", "The promised update went out."],
  watching: ["Watching", "neutral", "The promise stands."],
  unknown: ["No date", "neutral", "No delivery date is known."],
  delivered: ["Delivered", "ok", "Delivered: no longer watched."],
  cancelled: ["Cancelled", "neutral", "Cancelled: no longer watched."],
};

// The open states, most urgent first, as the counts show them.
const OPEN = ["held", "overdue", "updated", "watching", "unknown"];

// What an empty list says, per filter.
const NONE = {
  open: "No order is being watched yet. Orders show up here once they are placed with a promised date.",
  held: "No order is held. Nothing waits for a decision.",
  overdue: "No order is overdue right now.",
  updated: "No order is waiting after its update.",
  watching: "No order is waiting for its promised date.",
  unknown: "Every watched order has a delivery date.",
  delivered: "No watched order has been delivered yet.",
  cancelled: "No watched order has been cancelled.",
};

const FILTERS = [["open", "Open"], ...Object.keys(STATES).map((s) => [s, STATES[s][0]])];

export async function viewWatch(route, isCurrent) {
  const counts = h("section", { id: "watch-counts", class: "tiles-section", "aria-label": "Watched orders by state" }, loadingText());
  const list = h("div", { id: "watch-list" }, loadingText());
  const filter = h(
    "fieldset",
    { class: "filter" },
    h("legend", {}, "Show"),
    FILTERS.map(([value, label]) =>
      h(
        "label",
        { class: "radio" },
        h("input", {
          type: "radio",
          name: "watch-state",
          id: `watch-filter-${value}`,
          value,
          checked: state.watchFilter === value,
          onchange: () => {
            state.watchFilter = value;
            load(counts, list);
          },
        }),
        ` ${label}`,
      ),
    ),
  );
  mount(
    h(
      "div",
      { class: "page wide" },
      h("h1", {}, "Watch"),
      h("p", { class: "lead" }, "Orders whose promised delivery date amends watches. When a promise passes in silence, amends apologises first, a person checks, and an update follows."),
      counts,
      filter,
      list,
    ),
    "Watch",
  );
  if (isCurrent()) await load(counts, list);
}

async function load(counts, list) {
  const wanted = state.watchFilter;
  // Two quick filter changes each load the list: only the newest answer may draw it.
  const seq = (list.dataset.seq = String(Number(list.dataset.seq ?? 0) + 1));
  list.replaceChildren(loadingText());
  try {
    const data = await api("GET", `/api/watches?state=${encodeURIComponent(wanted)}&limit=500`);
    if (!list.isConnected || list.dataset.seq !== seq) return;
    counts.replaceChildren(...countTiles(data?.counts ?? {}).filter(Boolean));
    const rows = data?.watches ?? [];
    list.replaceChildren(
      rows.length
        ? watchTable(rows, wanted)
        : empty(NONE[wanted] ?? "No orders in this state."),
    );
  } catch (err) {
    if (err.handled || !list.isConnected || list.dataset.seq !== seq) return;
    list.replaceChildren(h("p", { class: "form-error" }, `Watched orders could not be loaded: ${err.message}`));
  }
}

function countTiles(counts) {
  const held = Number(counts.held ?? 0);
  return [
    h("h2", { class: "visually-hidden" }, "Watched orders by state"),
    h(
      "dl",
      { class: "tiles" },
      OPEN.map((s) => {
        const n = Number(counts[s] ?? 0);
        const [label, tone, hint] = STATES[s];
        const loud = n > 0 && (tone === "bad" || tone === "warn") ? tone : null;
        return h(
          "div",
          { class: `tile${loud ? ` tile-${loud}` : ""}`, id: `watch-count-${s}` },
          h("dt", {}, label),
          h("dd", { class: "tile-value" }, String(n)),
          h("dd", { class: "tile-hint" }, hint),
        );
      }),
    ),
    held > 0
      ? h(
          "p",
          { class: "notice watch-held-notice", role: "note" },
          `${plural(held, "order is", "orders are")} held: found overdue after the day's cap of automatic messages, so nothing was sent to ${held === 1 ? "this customer" : "these customers"}. Please decide what to tell ${held === 1 ? "them" : "each one"}; the day's summary is in `,
          h("a", { href: "#/escalations" }, "Escalations"),
          ".",
        )
      : null,
  ];
}

function stateBadge(s) {
  const [label, tone] = STATES[s] ?? [s, "neutral"];
  return badge(label, tone);
}

// Only web addresses become links: an event could carry anything in a tracking URL.
function webAddress(url) {
  try {
    const parsed = new URL(url);
    return parsed.protocol === "https:" || parsed.protocol === "http:" ? parsed.href : null;
  } catch {
    return null;
  }
}

function carrierCell(w) {
  const url = w.tracking_url ? webAddress(w.tracking_url) : null;
  if (!url) return w.carrier ?? "—";
  return h(
    "a",
    { href: url, target: "_blank", rel: "noopener noreferrer", "aria-label": `Track order ${w.order_number ?? w.order_id}${w.carrier ? ` with ${w.carrier}` : ""} (opens in a new tab)` },
    w.carrier ?? "Tracking page",
  );
}

function overdueCell(w) {
  if (w.detected_at) {
    return h(
      "span",
      {},
      "since ",
      w.overdue_at ? timeEl(w.overdue_at) : "—",
      h("br"),
      h("span", { class: "muted" }, "found ", timeEl(w.detected_at)),
    );
  }
  if (w.overdue_at) return h("span", {}, "from ", timeEl(w.overdue_at));
  return "—";
}

function orderCell(w) {
  if (!w.order_number || w.order_number === w.order_id) return w.order_id;
  return h("span", {}, w.order_number, " ", h("span", { class: "muted" }, w.order_id));
}

function watchTable(rows, wanted) {
  const table = dataTable({
    caption: wanted === "open" ? "Watched orders, the most urgent first" : `Watched orders: ${STATES[wanted]?.[0] ?? wanted}`,
    id: "watches",
    className: "watch-table",
    rows,
    columns: [
      { label: "Order", rowHeader: true, cell: orderCell },
      { label: "Customer", cell: (w) => w.customer_id },
      { label: "State", cell: (w) => stateBadge(w.state) },
      { label: "Promised", cell: (w) => (w.deliver_by ? fmtDay(w.deliver_by) : "—") },
      { label: "Overdue", cell: overdueCell },
      { label: "Update due", cell: (w) => (w.update_due_at ? timeEl(w.update_due_at) : "—") },
      { label: "Carrier", cell: carrierCell },
      {
        label: "Incident",
        cell: (w) =>
          w.incident_id
            ? h("a", { href: incidentHash(w.incident_id), "aria-label": `Open the overdue incident for order ${w.order_number ?? w.order_id}` }, "Open")
            : "—",
      },
    ],
  });
  // Held orders need a person: their rows stand out (their badge says so in words).
  const trs = table.querySelectorAll("tbody tr");
  rows.forEach((w, i) => {
    if (w.state === "held") trs[i]?.classList.add("watch-held");
  });
  return table;
}
