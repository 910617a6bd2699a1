// The sources of an answer, and a cited passage opened in its document. Every string from the
// server goes in through textContent: a title or snippet holding markup shows as text.

import { api } from "./api.js";

function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined && text !== null) node.textContent = text;
  return node;
}

// Where in its document a passage is: "page 3", or the heading path "Travel > Meals".
export function placeOf(source) {
  if (source.page) return `page ${source.page}`;
  return source.heading || "";
}

function sourceItem(source, prefix, onOpen) {
  const item = element("li", source.cited ? "source cited" : "source retrieved");
  item.id = `${prefix}-${source.index}`;
  item.tabIndex = -1;
  const head = element("div", "source-head");
  head.append(element("span", "source-index", `[${source.index}]`));
  head.append(element("span", "source-title", source.title || source.document));
  head.append(element("span", source.cited ? "badge cited" : "badge", source.cited ? "cited" : "retrieved"));
  item.append(head);
  const where = [source.document, placeOf(source)].filter(Boolean).join(" · ");
  item.append(element("div", "source-where", where));
  item.append(element("blockquote", "snippet", source.text));
  if (source.document_id && source.node_id) {
    const open = element("button", "quiet small", "Open in context");
    open.type = "button";
    open.setAttribute("aria-label", `Open source ${source.index} in context`);
    open.addEventListener("click", () => onOpen(source));
    item.append(open);
  }
  return item;
}

// Fills `container` with the answer's sources: the cited ones first, then those merely retrieved.
export function renderSources(container, sources, prefix, onOpen) {
  container.replaceChildren();
  if (!sources.length) {
    container.append(element("p", "hint", "No sources: nothing in this collection matched."));
    return;
  }
  const cited = sources.filter((source) => source.cited);
  const rest = sources.filter((source) => !source.cited);
  for (const [label, group] of [["Cited", cited], ["Also retrieved", rest]]) {
    if (!group.length) continue;
    container.append(element("h3", "sources-heading", label));
    const list = element("ol", "source-list");
    for (const source of group) list.append(sourceItem(source, prefix, onOpen));
    container.append(list);
  }
}

// Opens the passage of `source` with its neighbours in the <dialog>, the cited chunk marked.
export async function openPassage(dialog, source) {
  const title = dialog.querySelector("#passage-title");
  const where = dialog.querySelector("#passage-document");
  const chunks = dialog.querySelector("#passage-chunks");
  title.textContent = source.title || source.document;
  where.textContent = [source.document, placeOf(source)].filter(Boolean).join(" · ");
  chunks.replaceChildren(element("p", "hint", "Loading…"));
  if (!dialog.open) dialog.showModal();
  try {
    const detail = await api.passage(source.document_id, source.node_id);
    chunks.replaceChildren();
    let focused = null;
    for (const chunk of detail.context ?? []) {
      const block = element("section", chunk.focus ? "chunk focus" : "chunk");
      const place = chunk.page ? `page ${chunk.page}` : chunk.heading;
      if (place) block.append(element("div", "chunk-where", place));
      block.append(element("p", "chunk-text", chunk.text));
      if (chunk.focus) {
        block.setAttribute("aria-label", "The cited passage");
        block.tabIndex = -1;
        focused = block;
      }
      chunks.append(block);
    }
    focused?.scrollIntoView({ block: "center" });
  } catch (error) {
    chunks.replaceChildren(element("p", "error", error.message));
  }
}
