// The problems found in a template's text, listed under the editor, each leading to its line.

import { badge, h } from "./dom.js";
import { plural } from "./format.js";
import { templateHash } from "./router.js";

export function isError(d) {
  return d.severity !== "warning";
}

export function renderDiagnostics(ed, list) {
  const key = JSON.stringify(list);
  if (key === ed.diagKey) return;
  ed.diagKey = key;
  const errors = list.filter(isError).length;
  const warnings = list.length - errors;
  if (errors) ed.diag.setAttribute("role", "alert");
  else ed.diag.removeAttribute("role");
  ed.diag.classList.toggle("has-errors", errors > 0);
  const summary = errors
    ? `${plural(errors, "error")} to fix before you can publish.`
    : warnings
      ? `No errors, ${plural(warnings, "warning")} worth a look.`
      : "No problems found.";
  ed.diag.replaceChildren(
    h("p", { class: "diag-summary" }, summary),
    list.length ? h("ul", { class: "diag-list" }, list.map((d) => diagnosticItem(ed, d))) : null,
  );
  markSourceErrors(ed, list);
}

// There is no line gutter, so the text box itself shows that it has errors.
function markSourceErrors(ed, list) {
  ed.source.classList.toggle("has-errors", list.some(isError));
}

function diagnosticItem(ed, d) {
  const own = !d.path || d.path === ed.detail.name;
  const text = own
    ? d.line != null
      ? `Line ${d.line}: ${d.message}`
      : d.message
    : `${d.path}${d.line != null ? `, line ${d.line}` : ""}: ${d.message}`;
  const warning = d.severity === "warning";
  const li = h("li", { class: `diag ${warning ? "diag-warning" : "diag-error"}` });
  if (own && d.line != null) {
    li.append(h("button", { type: "button", class: "link-button", onclick: () => selectLine(ed.source, d.line) }, text));
  } else if (!own && d.path.includes("/")) {
    const [group, ...rest] = d.path.split("/");
    li.append(h("a", { href: templateHash(group, rest.join("/")) }, text));
  } else {
    li.append(h("span", {}, text));
  }
  if (warning) li.append(" ", badge("warning", "warn"));
  return li;
}

function selectLine(textarea, line) {
  const lines = textarea.value.split("\n");
  const index = Math.min(Math.max(line, 1), lines.length) - 1;
  let start = 0;
  for (let i = 0; i < index; i += 1) start += lines[i].length + 1;
  const end = start + lines[index].length;
  textarea.focus();
  textarea.setSelectionRange(start, end);
  textarea.scrollTop = Math.max(0, offsetOf(textarea, start) - textarea.clientHeight / 3);
}

// Where a character sits vertically in a wrapping textarea, measured with a mirror element.
function offsetOf(textarea, index) {
  const style = getComputedStyle(textarea);
  const mirror = document.createElement("div");
  for (const prop of [
    "fontFamily", "fontSize", "fontWeight", "lineHeight", "letterSpacing", "tabSize",
    "paddingTop", "paddingRight", "paddingBottom", "paddingLeft",
  ]) {
    mirror.style[prop] = style[prop];
  }
  Object.assign(mirror.style, {
    position: "absolute",
    visibility: "hidden",
    left: "-9999px",
    top: "0",
    boxSizing: "content-box",
    width: `${textarea.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight)}px`,
    whiteSpace: "pre-wrap",
    overflowWrap: "break-word",
  });
  mirror.textContent = textarea.value.slice(0, index);
  const marker = document.createElement("span");
  marker.textContent = "\u200b";
  mirror.append(marker);
  document.body.append(mirror);
  const top = marker.offsetTop;
  mirror.remove();
  return top;
}
