// The conversations sidebar: list, open, rename and delete. Titles go in as text, never markup.

import { api } from "./api.js";

function button(label, className, onClick) {
  const node = document.createElement("button");
  node.type = "button";
  node.className = className;
  node.textContent = label;
  node.addEventListener("click", onClick);
  return node;
}

/**
 * The sidebar of `list` (a <ul>). `onOpen(id)` opens a conversation, `onDeleted(id)` follows a
 * deletion, `onError(error)` shows a failure; `current()` names the open conversation.
 */
export class SessionList {
  constructor(list, empty, { onOpen, onDeleted, onError, current }) {
    Object.assign(this, { list, empty, onOpen, onDeleted, onError, current });
  }

  async refresh() {
    const page = await api.sessions();
    this.list.replaceChildren(...page.items.map((session) => this.item(session)));
    this.empty.hidden = page.items.length > 0;
  }

  item(session) {
    const item = document.createElement("li");
    item.className = "session";
    item.dataset.sessionId = session.id;
    const title = session.title || "Untitled";
    const open = button(title, "session-open", () => this.onOpen(session.id));
    open.title = title;
    if (session.id === this.current()) open.setAttribute("aria-current", "page");
    const rename = button("Rename", "quiet small", () => this.startRename(item, session));
    rename.setAttribute("aria-label", `Rename “${title}”`);
    const remove = button("Delete", "quiet small danger", () => this.confirmDelete(remove, session));
    remove.setAttribute("aria-label", `Delete “${title}”`);
    const actions = document.createElement("div");
    actions.className = "session-actions";
    actions.append(rename, remove);
    item.append(open, actions);
    return item;
  }

  startRename(item, session) {
    const form = document.createElement("form");
    form.className = "rename";
    const input = document.createElement("input");
    input.value = session.title || "";
    input.maxLength = 200;
    input.required = true;
    input.setAttribute("aria-label", "New title");
    const save = document.createElement("button");
    save.type = "submit";
    save.className = "small";
    save.textContent = "Save";
    const cancel = button("Cancel", "quiet small", () => this.refresh().catch(this.onError));
    form.append(input, save, cancel);
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      try {
        await api.rename(session.id, input.value);
        await this.refresh();
      } catch (error) {
        this.onError(error);
      }
    });
    input.addEventListener("keydown", (event) => {
      if (event.key === "Escape") cancel.click();
    });
    item.replaceChildren(form);
    input.focus();
    input.select();
  }

  // A second press confirms: no blocking confirm() box, and the keyboard path is the same.
  async confirmDelete(remove, session) {
    if (!remove.dataset.armed) {
      remove.dataset.armed = "1";
      remove.textContent = "Confirm delete";
      setTimeout(() => {
        delete remove.dataset.armed;
        remove.textContent = "Delete";
      }, 4000);
      return;
    }
    try {
      await api.remove(session.id);
      this.onDeleted(session.id);
      await this.refresh();
    } catch (error) {
      this.onError(error);
    }
  }
}
