// The Escalations section, and the escalation card the incident page shows too.

import { api } from "./api.js";
import { badge, empty, facts, field, h, loadingText } from "./dom.js";
import { channelLabel, languageName, statusBadge, theirClock, theirDay, timeEl } from "./format.js";
import { mount } from "./page.js";
import { incidentHash } from "./router.js";
import { state } from "./state.js";
import { flash, report } from "./toast.js";

export async function viewEscalations(route, isCurrent) {
  const list = h("div", { id: "escalation-list", class: "escalation-list" }, loadingText());
  const filter = h(
    "fieldset",
    { class: "filter" },
    h("legend", {}, "Show"),
    [
      ["open", "Waiting"],
      ["handled", "Handled"],
      ["all", "All"],
    ].map(([value, label]) =>
      h(
        "label",
        { class: "radio" },
        h("input", {
          type: "radio",
          name: "escalation-status",
          id: `escalation-filter-${value}`,
          value,
          checked: state.escalationFilter === value,
          onchange: () => {
            state.escalationFilter = value;
            loadEscalations(list);
          },
        }),
        ` ${label}`,
      ),
    ),
  );
  mount(
    h(
      "div",
      { class: "page" },
      h("h1", {}, "Escalations"),
      h("p", { class: "lead" }, "Customers the policy handed to a person, usually for a call. See what they already received, reach out, then mark it handled with a note."),
      filter,
      list,
    ),
    "Escalations",
  );
  if (isCurrent()) await loadEscalations(list);
}

async function loadEscalations(list) {
  const status = state.escalationFilter;
  list.replaceChildren(loadingText());
  try {
    const data = await api("GET", `/api/escalations?status=${encodeURIComponent(status)}`);
    if (!list.isConnected || status !== state.escalationFilter) return;
    const items = data?.escalations ?? [];
    if (!items.length) {
      const none = {
        open: "No escalations waiting. Nice.",
        handled: "Nothing has been handled yet.",
        all: "No escalations yet.",
      }[status];
      list.replaceChildren(empty(none));
      return;
    }
    list.replaceChildren(
      ...items.map((e) => escalationCard(e, { incidentLink: true, revealContacts: true, onChanged: () => loadEscalations(list) })),
    );
  } catch (err) {
    if (err.handled || !list.isConnected) return;
    list.replaceChildren(h("p", { class: "form-error" }, `Escalations could not be loaded: ${err.message}`));
  }
}

export function escalationCard(e, { incidentLink, revealContacts, heading = "h2", onChanged }) {
  const headingId = `escalation-title-${e.escalation_id}`;
  const who = e.customer_name ?? e.customer_id ?? "Customer";
  const contacts = h("div", { class: "contacts" }, contactFacts(e, false));
  const card = h(
    "article",
    { class: `escalation panel escalation-${e.status}`, id: `escalation-${e.escalation_id}`, "aria-labelledby": headingId },
    h(
      heading,
      { id: headingId, class: "escalation-title" },
      `${who}${e.order_id ? ` · order ${e.order_id}` : ""}`,
    ),
    h(
      "p",
      { class: "badges" },
      badge(e.status === "open" ? "waiting" : "handled", e.status === "open" ? "warn" : "ok"),
      " ",
      h("span", { class: "muted" }, "raised ", timeEl(e.created_at)),
    ),
    facts([
      ["Why", e.reason],
      ["When to call", callTime(e.call)],
      ["Rule", e.rule],
      ["Customer tier", e.tier],
      ["Language", e.locale ? `${languageName(e.locale)} (${e.locale})` : null],
    ]),
    contacts,
    revealContacts ? revealButton(e, contacts) : null,
    receivedList(e.messages ?? []),
    orderHistory(e),
    incidentLink && e.incident_id ? h("p", {}, h("a", { href: incidentHash(e.incident_id) }, "See the whole incident")) : null,
    e.status === "open" ? handleForm(e, onChanged) : handledNote(e),
  );
  return card;
}

// When to call, in the customer's daytime: their clock first (that is what matters to them),
// then the coordinator's own.
function callTime(call) {
  if (!call) return null;
  const zone = call.timezone ? ` (${call.timezone})` : "";
  if (call.now) {
    return h("span", {}, badge("now", "ok"), ` until ${theirClock(call.until)} their time${zone}: until `, timeEl(call.until), " yours");
  }
  return h(
    "span",
    {},
    `${theirDay(call.from)}, ${theirClock(call.from)}–${theirClock(call.until)} their time${zone}: from `,
    timeEl(call.from),
    " yours",
  );
}

function contactFacts(e, unmasked) {
  const email = e.email ? (unmasked ? h("a", { href: `mailto:${e.email}` }, e.email) : e.email) : null;
  const phone = e.phone ? (unmasked ? h("a", { href: `tel:${e.phone}` }, e.phone) : e.phone) : null;
  return facts([
    ["Customer", e.customer_name && e.customer_id ? `${e.customer_name} (${e.customer_id})` : e.customer_name ?? e.customer_id],
    ["Email", email],
    ["Phone", phone],
  ]);
}

function revealButton(e, contacts) {
  const button = h("button", { type: "button", class: "button-secondary reveal-contacts" }, "Show contact details");
  button.setAttribute("aria-describedby", `escalation-title-${e.escalation_id}`);
  button.addEventListener("click", async () => {
    button.disabled = true;
    try {
      const full = await api("GET", `/api/escalations/${encodeURIComponent(e.escalation_id)}`);
      contacts.replaceChildren(contactFacts(full, true));
      contacts.tabIndex = -1;
      contacts.focus();
      button.remove();
    } catch (err) {
      button.disabled = false;
      report(err, "Contact details could not be loaded");
    }
  });
  return button;
}

function receivedList(messages) {
  return h(
    "div",
    { class: "received" },
    h("h3", {}, "What the customer already received"),
    messages.length
      ? h(
          "ul",
          { class: "plain" },
          messages.map((m) =>
            h(
              "li",
              {},
              `${channelLabel(m.channel)} `,
              statusBadge(m.status),
              m.subject ? [" ", h("span", {}, `“${m.subject}”`)] : null,
            ),
          ),
        )
      : empty("Nothing was sent to the customer: this one is up to you."),
  );
}

// The order's story so far, so the person checking knows it before they call or ask the carrier:
// the promise amends watches, and every incident recorded on the order.
function orderHistory(e) {
  const history = e.order_history ?? [];
  const promise = e.promise;
  if (!promise && history.length <= 1) return null;
  return h(
    "div",
    { class: "order-history" },
    h("h3", {}, "The order so far"),
    promise
      ? facts([
          ["Promised by", promise.deliver_by],
          ["Watch", promise.state],
          ["Carrier", promise.carrier],
          ["Found overdue", promise.detected_at ? timeEl(promise.detected_at) : null],
          ["Update promised by", promise.update_due_at ? timeEl(promise.update_due_at) : null],
        ])
      : null,
    history.length
      ? h(
          "ol",
          { class: "plain" },
          history.map((i) =>
            h(
              "li",
              {},
              timeEl(i.recorded_at),
              ` ${i.event_type}`,
              i.rule ? h("span", { class: "muted" }, ` · ${i.rule}${i.kind ? ` (${i.kind})` : ""}`) : null,
              ` · ${i.messages} message${i.messages === 1 ? "" : "s"} `,
              i.incident_id ? h("a", { href: incidentHash(i.incident_id) }, "open") : null,
            ),
          ),
        )
      : null,
  );
}

function handleForm(e, onChanged) {
  const noteId = `handle-note-${e.escalation_id}`;
  const note = h("textarea", { id: noteId, rows: "3", class: "handle-note" });
  const button = h("button", { type: "submit" }, "Mark handled");
  const form = h(
    "form",
    { class: "handle-form", "aria-label": "Mark handled" },
    field("Note: what you did or agreed with the customer", note),
    h("div", { class: "actions" }, button),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    button.disabled = true;
    try {
      await api("POST", `/api/escalations/${encodeURIComponent(e.escalation_id)}/handle`, { note: note.value.trim() });
      flash("Marked as handled. Thank you.");
      onChanged();
    } catch (err) {
      button.disabled = false;
      if (err.status === 409) {
        flash("Someone already handled this one.", "warning");
        onChanged();
        return;
      }
      report(err, "Not marked as handled");
    }
  });
  return form;
}

function handledNote(e) {
  return h(
    "div",
    { class: "handled" },
    h("p", {}, "Handled", e.handled_by ? ` by ${e.handled_by}` : "", e.handled_at ? [" on ", timeEl(e.handled_at)] : "", "."),
    e.note ? h("blockquote", { class: "handled-note" }, e.note) : null,
  );
}
