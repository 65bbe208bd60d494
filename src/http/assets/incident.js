// One incident in full: what happened, the decision and why, its messages, offers and escalation.

import { api } from "./api.js";
import { offersTable } from "./compensation.js";
import { badge, dataTable, empty, facts, h, section, viewToggle } from "./dom.js";
import { escalationCard } from "./escalations.js";
import { channelLabel, deliveryTone, describeOffer, eventLabel, jsonText, showValue, statusBadge, timeEl } from "./format.js";
import { mount } from "./page.js";
import { incidentHash, render } from "./router.js";

export async function viewIncident(route, isCurrent) {
  const data = await api("GET", `/api/incidents/${encodeURIComponent(route.id)}`);
  if (!isCurrent()) return;
  const s = data.incident ?? {};
  const title = `${eventLabel(s.event_type)}${s.order_id ? ` · order ${s.order_id}` : ""}`;
  mount(
    h(
      "div",
      { class: "page incident" },
      h("nav", { class: "crumbs", "aria-label": "Breadcrumb" }, h("a", { href: "#/activity" }, "Activity"), " › Incident"),
      h("h1", {}, title),
      incidentFacts(s),
      decisionSection(data.decision),
      messagesSection(data.messages ?? []),
      compensationSection(data.compensation ?? []),
      escalationSection(data.escalation),
      h(
        "details",
        { class: "event-json" },
        h("summary", {}, "The event as received (JSON)"),
        h("pre", { class: "code" }, jsonText(data.event)),
      ),
    ),
    title,
  );
}

function incidentFacts(s) {
  const flags = [
    s.escalated ? badge("escalated to a person", "warn") : null,
    s.coalesced ? badge(`combined: ${s.coalesced}`, "neutral") : null,
    s.unreachable ? badge(`unreachable: ${s.unreachable}`, "bad") : null,
  ].filter(Boolean);
  return h(
    "section",
    { class: "panel", "aria-label": "Incident" },
    facts([
      ["When", timeEl(s.created_at)],
      ["What happened", eventLabel(s.event_type)],
      ["Order", s.order_id],
      ["Customer", [s.customer_name ?? "", s.customer_name && s.customer_id ? " · " : "", s.customer_id ?? ""].join("") || null],
      ["Email", s.email],
      ["Phone", s.phone],
      ["From", s.source ? `${s.source}${s.event_id ? ` (event ${s.event_id})` : ""}` : null],
      ["Notes", flags.length ? h("span", { class: "badges" }, flags) : null],
    ]),
  );
}

function decisionSection(decision) {
  const section = h("section", { class: "section", "aria-labelledby": "decision-heading" }, h("h2", { id: "decision-heading" }, "Decision"));
  if (!decision) {
    section.append(empty("No decision was recorded for this incident."));
    return section;
  }
  const skipped = Object.entries(decision.skipped ?? {});
  section.append(
    h(
      "div",
      { class: "panel" },
      facts([
        ["Rule that matched", decision.rule ?? "none"],
        ["Template", decision.template],
        ["Channels", (decision.channels ?? []).map(channelLabel).join(", ") || "none"],
        ["Not used", skipped.length ? skipped.map(([channel, why]) => `${channelLabel(channel)}: ${why}`).join("; ") : null],
        ["Send at", decision.send_at ? timeEl(decision.send_at) : null],
        ["Combined with", decision.coalesced ? showValue(decision.coalesced) : null],
        ["Unreachable", decision.unreachable ? showValue(decision.unreachable) : null],
        ["Escalated", decision.escalated ? showValue(decision.escalated) : "No"],
        ["Policy version", decision.policy_version ? decision.policy_version.slice(0, 12) : null],
      ]),
      offersList(decision.offers),
    ),
  );
  if (decision.explanation) section.append(explanationView(decision.explanation));
  return section;
}

function offersList(offers) {
  if (!offers?.length) return h("p", { class: "muted" }, "No offer was part of this decision.");
  return h(
    "div",
    {},
    h("h3", {}, "Offers decided"),
    h(
      "ul",
      { class: "plain" },
      offers.map((o) =>
        h("li", {}, o && typeof o === "object" && o.kind ? describeOffer(o) : h("pre", { class: "code" }, jsonText(o))),
      ),
    ),
  );
}

function explanationView(ex) {
  const rules = ex.rules ?? [];
  const lines = [
    ["How often", ex.frequency],
    ["Offers", listOrNull(ex.offers)],
    ["Fallback", ex.fallback],
    ["Budget", listOrNull(ex.budget)],
    ["Channels", listOrNull(ex.channels)],
    ["Escalation", ex.escalation],
  ];
  return h(
    "div",
    { class: "explanation" },
    h("h3", {}, "Why"),
    h("p", { class: "muted" }, "Rules are checked in order and the first one that matches decides."
      + (ex.policy_version ? ` Policy version ${ex.policy_version.slice(0, 12)}.` : "")),
    rules.length ? h("ol", { class: "rules" }, rules.map(ruleItem)) : empty("No rules were recorded."),
    facts(lines),
  );
}

function listOrNull(items) {
  if (!items?.length) return null;
  return h("ul", { class: "plain" }, items.map((item) => h("li", {}, showValue(item))));
}

function ruleItem(r) {
  const outcome = String(r.outcome ?? "");
  const matched = outcome === "matched";
  const failed = outcome.startsWith("error");
  const label = matched ? "Matched: this rule decided" : failed ? `Could not be checked (${outcome.replace(/^error:\s*/, "")})` : "Did not match";
  const seen = Object.entries(r.seen ?? {});
  return h(
    "li",
    { class: `rule ${matched ? "rule-matched" : failed ? "rule-error" : "rule-skipped"}` },
    h(
      "div",
      { class: "rule-head" },
      h("strong", {}, r.rule),
      " ",
      badge(label, matched ? "ok" : failed ? "bad" : "neutral"),
      r.line != null ? h("span", { class: "muted" }, ` line ${r.line}`) : null,
    ),
    r.condition ? h("code", { class: "condition" }, r.condition) : null,
    seen.length
      ? h(
          "dl",
          { class: "seen" },
          h("div", { class: "visually-hidden" }, "Values seen:"),
          seen.map(([path, value]) =>
            h("div", { class: "seen-item" }, h("dt", {}, h("code", {}, path)), h("dd", {}, h("code", {}, JSON.stringify(value)))),
          ),
        )
      : null,
  );
}

function messagesSection(messages) {
  return section("messages", "Messages",
    messages.length ? messages.map(messageView) : empty("No messages were sent for this incident."),
  );
}

function messageView(m) {
  const headingId = `message-${m.outbox_id}`;
  return h(
    "article",
    { class: "message panel", "aria-labelledby": headingId },
    h(
      "h3",
      { id: headingId },
      `${channelLabel(m.channel)} to ${m.recipient ?? "—"}`,
    ),
    h(
      "p",
      { class: "badges" },
      statusBadge(m.status, m.scheduled?.until),
      m.delivery_status ? [" ", badge(m.delivery_status, deliveryTone(m.delivery_status))] : null,
    ),
    m.status === "unknown"
      ? h("p", { class: "notice" }, "amends could not tell whether this was sent. Check with the provider before anyone resends, so the customer does not get it twice.")
      : null,
    m.scheduled
      ? h("p", { class: "notice" }, "Scheduled: it goes out ", timeEl(m.scheduled.until), `, as ${m.scheduled.reason}.`)
      : null,
    m.cancelled
      ? h(
          "p",
          { class: "notice" },
          `Cancelled before it went out: ${m.cancelled.reason}.`,
          m.cancelled.superseded_by
            ? [" ", h("a", { href: incidentHash(m.cancelled.superseded_by) }, `See the newer incident that replaced it (${eventLabel(m.cancelled.superseded_by_type)})`)]
            : null,
        )
      : null,
    facts([
      ["Due", m.status === "pending" && m.due_at ? timeEl(m.due_at) : null],
      ["Language", m.locale],
      ["Sent", m.sent_at ? timeEl(m.sent_at) : null],
      ["Provider", m.provider],
      ["Provider reference", m.provider_message_id],
      ["Template texts", m.template_version != null ? `set ${m.template_version.slice(0, 12)}` : "not recorded"],
      ["Attempts", m.attempts],
      ["Backup for", m.standby_for ? `another message (${m.standby_for}); sent only if that one fails` : null],
      ["Last error", m.last_error],
    ]),
    messageContent(m),
    attemptsTable(m.attempt_log ?? []),
    deliveryEventsTable(m.delivery_events ?? []),
  );
}

function messageContent(m) {
  const text = h("pre", { class: "message-text" }, m.body_text ?? "");
  if (m.channel !== "email") return h("div", { class: "message-content" }, h("h4", {}, "Text as sent"), text);
  const subject = h("p", { class: "message-subject" }, h("span", { class: "preview-label" }, "Subject: "), m.subject ?? "—");
  if (m.body_html == null) return h("div", { class: "message-content" }, subject, text);
  const frame = h("iframe", { sandbox: "", title: "The email as sent", class: "email-frame", referrerpolicy: "no-referrer" });
  frame.srcdoc = m.body_html;
  return h("div", { class: "message-content" }, subject, viewToggle(frame, text, "Show the email as"), frame, text);
}

function attemptsTable(attempts) {
  return h(
    "div",
    { class: "subsection" },
    h("h4", {}, "Attempts"),
    attempts.length
      ? dataTable({
          caption: "Sending attempts",
          className: "compact",
          rows: attempts,
          columns: [
            { label: "Attempt", rowHeader: true, cell: (a) => `#${a.number}` },
            { label: "Provider", cell: (a) => a.provider ?? "—" },
            { label: "Outcome", cell: (a) => a.outcome ?? "—" },
            { label: "Error", cell: (a) => a.error ?? "—" },
            { label: "Started", cell: (a) => timeEl(a.started_at) },
            { label: "Finished", cell: (a) => (a.finished_at ? timeEl(a.finished_at) : "—") },
          ],
        })
      : empty("No attempts yet."),
  );
}

function deliveryEventsTable(events) {
  return h(
    "div",
    { class: "subsection" },
    h("h4", {}, "Reports from the provider"),
    events.length
      ? dataTable({
          caption: "Delivery status reports from the provider",
          className: "compact",
          rows: events,
          columns: [
            { label: "Status", rowHeader: true, cell: (e) => badge(e.status, deliveryTone(e.status)) },
            { label: "Provider", cell: (e) => e.provider ?? "—" },
            { label: "Detail", cell: (e) => e.detail ?? "—" },
            { label: "When", cell: (e) => timeEl(e.occurred_at ?? e.created_at) },
          ],
        })
      : empty("No reports from the provider yet."),
  );
}

function compensationSection(offers) {
  return section("compensation", "Compensation",
    offers.length ? offersTable(offers, false) : empty("Nothing was offered for this incident."),
  );
}

function escalationSection(escalation) {
  return section("escalation", "Escalation",
    escalation
      ? escalationCard(escalation, { incidentLink: false, revealContacts: false, heading: "h3", onChanged: () => render() })
      : empty("This incident was not handed to a person."),
  );
}
