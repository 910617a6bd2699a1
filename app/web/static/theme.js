// Light and dark themes (the button is a toggle: pressed means dark): the system's choice unless the reader picked one here (kept locally).

const THEME_KEY = "citestream.theme";

function systemTheme() {
  return window.matchMedia("(prefers-color-scheme: dark)").matches ? "dark" : "light";
}

function apply(button, theme) {
  document.documentElement.dataset.theme = theme;
  button.setAttribute("aria-pressed", theme === "dark" ? "true" : "false");
}

export function initTheme(button) {
  apply(button, localStorage.getItem(THEME_KEY) ?? systemTheme());
  button.addEventListener("click", () => {
    const next = document.documentElement.dataset.theme === "dark" ? "light" : "dark";
    localStorage.setItem(THEME_KEY, next);
    apply(button, next);
  });
}
