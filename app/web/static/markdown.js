// Answer text → safe DOM: Markdown rendered by marked, then sanitized by DOMPurify, then each
// `[n]` turned into a link to its source. Nothing in an answer can run script or load anything.

import { Marked } from "./vendor/marked-18.2.1/marked.esm.js";
import DOMPurify from "./vendor/dompurify-3.5.0/purify.es.js";

const markdown = new Marked({ async: false, gfm: true, breaks: false });

const PURIFY = {
  RETURN_DOM_FRAGMENT: true,
  // An answer formats text; it has no business embedding media, forms or styles.
  FORBID_TAGS: ["style", "img", "svg", "math", "form", "input", "button", "textarea", "select",
    "iframe", "object", "embed", "video", "audio", "source", "picture"],
  FORBID_ATTR: ["style", "id", "name", "class", "srcset"],
  // Only web and mail links, and links within the page: never javascript:, data: or vbscript:.
  ALLOWED_URI_REGEXP: /^(?:https?:|mailto:|#)/i,
};

DOMPurify.addHook("afterSanitizeAttributes", (node) => {
  if (node.tagName === "A" && node.hasAttribute("href")) {
    if (!node.getAttribute("href").startsWith("#")) {
      node.setAttribute("target", "_blank");
      node.setAttribute("rel", "noopener noreferrer");
    }
  }
});

const CITATION = /\[(\d{1,3})\]/g;
const HAS_CITATION = /\[\d{1,3}\]/; // no /g: test() must not move a lastIndex

// Wraps each `[n]` in the fragment's text (outside links and code) in a link to `#<prefix>-<n>`.
function linkCitations(fragment, prefix) {
  const walker = document.createTreeWalker(fragment, NodeFilter.SHOW_TEXT, {
    acceptNode: (node) =>
      node.parentElement?.closest("a, code, pre") ? NodeFilter.FILTER_REJECT : NodeFilter.FILTER_ACCEPT,
  });
  const nodes = [];
  while (walker.nextNode()) nodes.push(walker.currentNode);
  for (const node of nodes) {
    const text = node.nodeValue;
    if (!HAS_CITATION.test(text)) continue;
    const parts = document.createDocumentFragment();
    let last = 0;
    for (const match of text.matchAll(CITATION)) {
      parts.append(text.slice(last, match.index));
      const link = document.createElement("a");
      link.className = "cite";
      link.href = `#${prefix}-${match[1]}`;
      link.dataset.source = match[1];
      link.textContent = match[0];
      link.setAttribute("aria-label", `source ${match[1]}`);
      parts.append(link);
      last = match.index + match[0].length;
    }
    parts.append(text.slice(last));
    node.replaceWith(parts);
  }
}

// The answer as a sanitized fragment, its citations linking to `#<prefix>-<n>`.
export function renderAnswer(text, prefix) {
  const fragment = DOMPurify.sanitize(markdown.parse(text), PURIFY);
  linkCitations(fragment, prefix);
  return fragment;
}
