// The main area of the page: putting a view in it, and marking the nav link for where it is.

export const main = document.getElementById("main");

export function mount(node, title, focusTarget) {
  main.replaceChildren(node);
  document.title = `${title} · amends`;
  const target = focusTarget ?? main.querySelector("h1");
  if (target) {
    if (target.tagName === "H1") target.tabIndex = -1;
    target.focus();
  }
}

export function updateNav(section) {
  for (const link of document.querySelectorAll("#nav a[data-section]")) {
    if (link.dataset.section === section) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
}
