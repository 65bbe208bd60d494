// Generic DOM helpers: the h() element builder and the small pieces every view is made of.
// Children and attributes only ever go in as text, so untrusted API values cannot become markup.

export function h(tag, props, ...children) {
  const node = document.createElement(tag);
  append(node, children);
  for (const [key, value] of Object.entries(props ?? {})) {
    if (value == null || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "value") node.value = value;
    else if (key.startsWith("on") && typeof value === "function") {
      node.addEventListener(key.slice(2), value);
    } else node.setAttribute(key, value === true ? "" : String(value));
  }
  return node;
}

function append(node, children) {
  for (const child of children.flat(Infinity)) {
    if (child == null || child === false) continue;
    node.append(child instanceof Node ? child : String(child));
  }
}

export function field(labelText, control, hint) {
  const hintId = hint ? `${control.id}-hint` : null;
  if (hintId) {
    const described = [control.getAttribute("aria-describedby"), hintId].filter(Boolean);
    control.setAttribute("aria-describedby", described.join(" "));
  }
  return h(
    "div",
    { class: "field" },
    h("label", { for: control.id }, labelText),
    hint ? h("p", { class: "hint", id: hintId }, hint) : null,
    control,
  );
}

export function selectBox(id, options, value) {
  const select = h(
    "select",
    { id },
    options.map((o) => h("option", { value: o.value }, o.label)),
  );
  select.value = value;
  return select;
}

export function badge(text, tone = "neutral") {
  return h("span", { class: `badge badge-${tone}` }, text);
}

export function empty(text) {
  return h("p", { class: "empty" }, text);
}

export function loadingText(text = "Loading…") {
  return h("p", { class: "loading" }, text);
}

export function facts(rows) {
  const items = rows.filter(([, value]) => value != null && value !== "" && value !== false);
  return h(
    "dl",
    { class: "facts" },
    items.map(([term, value]) => h("div", { class: "fact" }, h("dt", {}, term), h("dd", {}, value))),
  );
}

// columns: [{label, cell(row) -> Node|string, rowHeader?}]
export function dataTable({ caption, columns, rows, id, className }) {
  const head = h(
    "thead",
    {},
    h("tr", {}, columns.map((c) => h("th", { scope: "col" }, c.label))),
  );
  const body = h(
    "tbody",
    {},
    rows.map((row) =>
      h(
        "tr",
        {},
        columns.map((c) =>
          h(c.rowHeader ? "th" : "td", { scope: c.rowHeader ? "row" : null, "data-label": c.label }, c.cell(row)),
        ),
      ),
    ),
  );
  return h(
    "div",
    { class: "table-wrap" },
    h(
      "table",
      { id, class: `data-table ${className ?? ""}`.trim() },
      caption ? h("caption", { class: "visually-hidden" }, caption) : null,
      head,
      body,
    ),
  );
}

// A titled section of a page, labelled by its heading.
export function section(id, title, ...content) {
  return h("section", { class: "section", "aria-labelledby": `${id}-heading` }, h("h2", { id: `${id}-heading` }, title), ...content);
}

// Two buttons that switch between the designed email and its text part.
export function viewToggle(frame, text, label, onChange) {
  const htmlButton = h("button", { type: "button", class: "segment" }, "Designed email");
  const textButton = h("button", { type: "button", class: "segment" }, "Plain text part");
  function show(textPart) {
    frame.hidden = textPart;
    text.hidden = !textPart;
    htmlButton.setAttribute("aria-pressed", String(!textPart));
    textButton.setAttribute("aria-pressed", String(textPart));
    onChange?.(textPart);
  }
  htmlButton.addEventListener("click", () => show(false));
  textButton.addEventListener("click", () => show(true));
  show(false);
  const group = h("div", { class: "segmented", role: "group", "aria-label": label }, htmlButton, textButton);
  group.show = show;
  return group;
}
