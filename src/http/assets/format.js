// Turning API values into what coordinators read: dates, money, plurals and labels.

import { badge, h } from "./dom.js";

export function plural(n, word, many = `${word}s`) {
  return `${n} ${n === 1 ? word : many}`;
}

const shortDateTime = new Intl.DateTimeFormat(undefined, {
  day: "numeric",
  month: "short",
  year: "numeric",
  hour: "2-digit",
  minute: "2-digit",
});
const fullDateTime = new Intl.DateTimeFormat(undefined, { dateStyle: "full", timeStyle: "long" });
const dayFormat = new Intl.DateTimeFormat(undefined, { weekday: "short", day: "numeric", month: "short" });

function parseDate(iso) {
  if (!iso) return null;
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? null : date;
}

export function fmtDate(iso) {
  const date = parseDate(iso);
  return date ? shortDateTime.format(date) : iso ?? "—";
}

export function timeEl(iso) {
  const date = parseDate(iso);
  if (!date) return iso ?? "—";
  return h("time", { datetime: iso, title: fullDateTime.format(date) }, shortDateTime.format(date));
}

export function fmtDay(day) {
  const match = /^(\d{4})-(\d{2})-(\d{2})$/.exec(day ?? "");
  if (!match) return day ?? "—";
  return dayFormat.format(new Date(Number(match[1]), Number(match[2]) - 1, Number(match[3])));
}

// Money arrives as decimal strings; the code is shown so MXN and USD never look alike.
export function money(amount, currency) {
  if (amount == null || amount === "") return "—";
  const value = Number(amount);
  if (!currency || !Number.isFinite(value)) return currency ? `${amount} ${currency}` : String(amount);
  try {
    return new Intl.NumberFormat(undefined, { style: "currency", currency, currencyDisplay: "code" }).format(value);
  } catch {
    return `${amount} ${currency}`;
  }
}

export function fmtBytes(size) {
  if (size == null) return "—";
  if (size < 1024) return plural(size, "byte");
  return `${(size / 1024).toFixed(1)} kB`;
}

export function jsonText(value) {
  return JSON.stringify(value, null, 2);
}

export function showValue(value) {
  if (value == null) return "—";
  if (value === true) return "Yes";
  if (typeof value === "string" || typeof value === "number") return String(value);
  return JSON.stringify(value);
}

let languageNames = null;
try {
  languageNames = new Intl.DisplayNames(["en"], { type: "language", languageDisplay: "standard" });
} catch {
  languageNames = null;
}

export function languageName(locale) {
  if (!locale) return "";
  try {
    return languageNames?.of(locale) ?? locale;
  } catch {
    return locale;
  }
}

export function words(slug) {
  const text = String(slug ?? "").replace(/[-_.]+/g, " ").trim();
  const capitalised = text.charAt(0).toUpperCase() + text.slice(1);
  return capitalised.replace(/\bsms\b/gi, "SMS");
}

const EVENT_LABELS = {
  "order.delayed": "Order delayed",
  "order.stockout": "Out of stock",
  "order.cancelled": "Order cancelled",
};

export function eventLabel(type) {
  return EVENT_LABELS[type] ?? words(type);
}

const GROUP_LABELS = {
  "order-delayed": "Order delayed",
  "order-cancelled": "Order cancelled",
  "order-stockout": "Out of stock",
  partials: "Shared pieces (partials)",
  layouts: "Layouts",
};

export function groupLabel(group) {
  return GROUP_LABELS[group] ?? words(group);
}

export function channelLabel(channel) {
  if (channel === "email") return "Email";
  if (channel === "sms") return "SMS";
  return words(channel);
}

// "order-summary.es.txt.hbs" -> "Order summary"
function pieceName(file) {
  return words(String(file ?? "").split(".")[0]);
}

export function templateLabel(t) {
  const lang = t.locale ? ` (${languageName(t.locale)})` : "";
  switch (t.kind) {
    case "email":
      return `Email${lang}`;
    case "email_text":
      return `Email text part${lang}`;
    case "sms":
      return `SMS${lang}`;
    case "partial":
      return `${pieceName(t.file)}${lang}`;
    case "partial_text":
      return `${pieceName(t.file)}, text part${lang}`;
    case "layout":
      return `${pieceName(t.file)} layout${lang}`;
    default:
      return `${t.file}${lang}`;
  }
}

const STATUS_LABELS = {
  pending: ["Waiting to send", "info"],
  sending: ["Sending", "info"],
  sent: ["Sent", "ok"],
  failed: ["Failed", "bad"],
  unknown: ["Outcome unknown", "warn"],
  standby: ["Standby", "neutral"],
  cancelled: ["Cancelled", "neutral"],
};

// A message waiting for its time (the customer's quiet hours, a rule's delay) reads as
// scheduled, with when, rather than as waiting to send.
export function statusBadge(status, scheduledUntil) {
  if (status === "pending" && scheduledUntil) return badge(`Scheduled for ${fmtDate(scheduledUntil)}`, "info");
  const [label, tone] = STATUS_LABELS[status] ?? [words(status), "neutral"];
  return badge(label, tone);
}

// A time on the customer's own clock, as the API gives it ("2026-11-25T09:00:00+01:00"): the
// wall-clock hour there, whatever the coordinator's zone.
export function theirClock(iso) {
  const match = /T(\d{2}:\d{2})/.exec(iso ?? "");
  return match ? match[1] : "—";
}

export function theirDay(iso) {
  return fmtDay((iso ?? "").slice(0, 10));
}

export function deliveryTone(status) {
  if (/deliver|open|click/i.test(status)) return "ok";
  if (/bounce|fail|reject|undeliver|complain|drop/i.test(status)) return "bad";
  return "neutral";
}

// Offers come flat from the ledger (amount, currency) and nested from a decision
// (amount: {amount, currency}).
export function describeOffer(offer) {
  const nested = offer.amount !== null && typeof offer.amount === "object";
  const o = nested ? { ...offer, amount: offer.amount.amount, currency: offer.amount.currency } : offer;
  switch (o.kind) {
    case "percent_off":
      return `${Number(o.percent)}% off the next order`;
    case "amount_off":
      return `${money(o.amount, o.currency)} off the next order`;
    case "free_shipping":
      return "Free shipping on the next order";
    case "gift_certificate":
      return `Gift certificate of ${money(o.amount, o.currency)}`;
    default:
      return words(o.kind);
  }
}
