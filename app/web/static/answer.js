// One question and its answer in the conversation: the answer re-rendered as it streams, its
// sources below it, and a mark saying how it ended.

import { renderAnswer } from "./markdown.js";
import { renderSources } from "./sources.js";

let answers = 0;

function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

export function questionView(text) {
  const item = element("article", "message question");
  item.append(element("h2", "visually-hidden", "You asked"));
  item.append(element("p", "question-text", text)); // as typed: never rendered as Markdown
  return item;
}

export class AnswerView {
  constructor(onOpenSource) {
    answers += 1;
    this.prefix = `a${answers}-source`;
    this.text = "";
    this.onOpenSource = onOpenSource;
    this.pending = false;
    this.root = element("article", "message answer");
    this.root.append(element("h2", "visually-hidden", "Answer"));
    this.body = element("div", "answer-text");
    this.body.dataset.testid = "answer";
    this.mark = element("p", "answer-mark");
    this.mark.hidden = true;
    this.sources = element("section", "sources");
    this.sources.dataset.testid = "sources";
    this.sources.setAttribute("aria-label", "Sources");
    this.sources.hidden = true;
    this.root.append(this.body, this.mark, this.sources);
    this.root.addEventListener("click", (event) => this.followCitation(event));
  }

  // Replaces the whole text (a stored answer, or a partial one kept across a reload).
  setText(text) {
    this.text = text;
    this.render();
  }

  append(delta) {
    this.text += delta;
    // One render per frame however many deltas arrive in it.
    if (!this.pending) {
      this.pending = true;
      requestAnimationFrame(() => {
        this.pending = false;
        this.render();
      });
    }
  }

  render() {
    this.body.replaceChildren(renderAnswer(this.text, this.prefix));
  }

  streaming(on) {
    this.root.classList.toggle("streaming", on);
    this.body.setAttribute("aria-busy", on ? "true" : "false");
    if (on) this.note("Answering…", "working");
    else if (this.mark.classList.contains("working")) this.note(null);
  }

  showSources(sources) {
    this.render();
    renderSources(this.sources, sources, this.prefix, this.onOpenSource);
    this.sources.hidden = false;
  }

  // A mark under the answer: "Stopped", "Interrupted: …", or nothing.
  note(text, kind = "") {
    this.mark.hidden = !text;
    this.mark.textContent = text ?? "";
    this.mark.className = `answer-mark ${kind}`;
  }

  ended(code, message) {
    this.render();
    if (code === "cancelled") this.note("Stopped. The answer so far is kept.", "stopped");
    else this.note(`Interrupted: ${message}`, "failed");
  }

  // A stored answer: its text, sources and how it ended.
  static stored(message, onOpenSource) {
    const view = new AnswerView(onOpenSource);
    view.setText(message.content);
    if (message.sources) view.showSources(message.sources);
    if (message.status === "interrupted") {
      if (message.error_code === "cancelled") view.note("Stopped. The answer so far is kept.", "stopped");
      else view.note("Interrupted before it was complete.", "failed");
    } else if (message.status === "error") {
      view.note(`Failed (${message.error_code ?? "error"}).`, "failed");
    }
    return view;
  }

  followCitation(event) {
    const link = event.target.closest("a.cite");
    if (!link) return;
    event.preventDefault();
    const target = this.sources.querySelector(`#${CSS.escape(link.hash.slice(1))}`);
    if (!target) return;
    target.classList.add("flash");
    setTimeout(() => target.classList.remove("flash"), 1500);
    target.scrollIntoView({ block: "nearest" });
    target.focus({ preventScroll: true });
  }
}
