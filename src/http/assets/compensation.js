// The Compensation section: budget use per day and per customer, and the ledger of offers.

import { api } from "./api.js";
import { badge, dataTable, empty, h, section } from "./dom.js";
import { describeOffer, fmtDay, money, plural, timeEl } from "./format.js";
import { mount } from "./page.js";
import { incidentHash } from "./router.js";

export async function viewCompensation(route, isCurrent) {
  const data = await api("GET", "/api/compensation?limit=100");
  if (!isCurrent()) return;
  mount(
    h(
      "div",
      { class: "page" },
      h("h1", {}, "Compensation"),
      h("p", { class: "lead" }, "What customers were offered, and how much of the budget it used. Offers are only made within budget; when it runs out, the policy's fallback applies instead."),
      budgetDaysSection(data.budget_days ?? []),
      budgetCustomersSection(data.customers ?? [], data.customer_window),
      ledgerSection(data.offers ?? []),
    ),
    "Compensation",
  );
}

function budgetBar(label, spent, limit, currency) {
  const used = Number(spent);
  const cap = limit != null ? Number(limit) : null;
  // A limit of zero is a budget that allows nothing: full from the start, never a division.
  const share = cap == null ? null : cap > 0 ? Math.min(100, (used / cap) * 100) : 100;
  const tone = share == null ? "none" : share >= 100 ? "full" : share >= 80 ? "high" : "ok";
  const percent = cap > 0 ? ` (${Math.round((used / cap) * 100) || 0}%)` : "";
  const text =
    cap != null
      ? `${money(spent, currency)} of ${money(limit, currency)}${percent}`
      : `${money(spent, currency)} spent · no limit`;
  const fill = h("span", { class: "bar-fill" });
  fill.style.width = `${share ?? 0}%`;
  return h(
    "li",
    { class: `budget-row budget-${tone}` },
    h("span", { class: "budget-label" }, label),
    h("span", { class: "bar", "aria-hidden": "true" }, fill),
    h("span", { class: "budget-text" }, text),
  );
}

function budgetDaysSection(days) {
  return section("budget-days", "Budget per day",
    days.length
      ? h("ul", { class: "budget-list", id: "budget-days" }, days.map((d) => budgetBar(`${fmtDay(d.day)} · ${d.currency}`, d.spent, d.limit, d.currency)))
      : empty("No compensation budget has been used yet."),
  );
}

function windowLabel(window) {
  const days = /^(\d+)\s*days?$/i.exec(window ?? "");
  if (days) return `the last ${plural(Number(days[1]), "day")}`;
  const hours = /^(\d+)\s*h(ours?)?$/i.exec(window ?? "");
  if (hours) return `the last ${plural(Number(hours[1]), "hour")}`;
  return window ? `the window ${window}` : "the current window";
}

function budgetCustomersSection(customers, window) {
  return section("budget-customers", `Per customer, over ${windowLabel(window)}`,
    customers.length
      ? h("ul", { class: "budget-list", id: "budget-customers" }, customers.map((c) => budgetBar(c.customer_id, c.given, c.cap, c.currency)))
      : empty("No customer has received compensation in this window."),
  );
}

function ledgerSection(offers) {
  return section("ledger", "Ledger",
    offers.length ? offersTable(offers, true) : empty("Nothing has been offered yet."),
  );
}

export function offersTable(offers, withIncident) {
  const columns = [
    { label: "Offer", rowHeader: true, cell: describeOffer },
    { label: "When", cell: (o) => timeEl(o.created_at) },
    { label: "Status", cell: (o) => badge(o.status === "issued" ? "issued" : "declined", o.status === "issued" ? "ok" : "neutral") },
    { label: "Code", cell: (o) => (o.code ? h("code", {}, o.code) : "—") },
    { label: "Cost", cell: (o) => money(o.cost, o.currency) },
    { label: "Expires", cell: (o) => (o.expires_at ? timeEl(o.expires_at) : "—") },
    { label: "Order", cell: (o) => o.order_id ?? "—" },
    { label: "Customer", cell: (o) => o.customer_id ?? "—" },
    { label: "Rule", cell: (o) => o.rule ?? "—" },
    { label: "Reason", cell: (o) => o.reason ?? "—" },
  ];
  if (withIncident) {
    columns.push({
      label: "Incident",
      cell: (o) =>
        o.incident_id
          ? h("a", { href: incidentHash(o.incident_id), "aria-label": `Open the incident for order ${o.order_id ?? ""}`.trim() }, "Open")
          : "—",
    });
  }
  return dataTable({ caption: "Compensation offers, newest first", id: withIncident ? "ledger" : null, className: "offers-table", rows: offers, columns });
}
