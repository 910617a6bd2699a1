// The chat page: asks through POST /api/runs and follows the run's events, so that a reload or
// a dropped network resumes the same answer (Last-Event-ID) instead of cancelling it.

import { api, onUnauthenticated } from "./api.js";
import { AnswerView, questionView } from "./answer.js";
import { SessionList } from "./sessions.js";
import { openPassage } from "./sources.js";
import { followRun } from "./stream.js";
import { uploadFiles, wireUploads } from "./upload.js";
import { initTheme } from "./theme.js";

const $ = (id) => document.getElementById(id);
const SESSION_KEY = "citestream.session";
const RUN_KEY = "citestream.run";
const COLLECTION_KEY = "citestream.collection";

const state = { sessionId: sessionStorage.getItem(SESSION_KEY), run: null, follow: null, asking: false };

// ---- status line ---------------------------------------------------------------------------

function say(message) {
  $("status").textContent = message;
  $("status").hidden = !message;
}
const sayError = (error) => say(error?.message ?? String(error));

// ---- the run being answered, kept in sessionStorage so a reload can resume it ---------------

function remember(run) {
  state.run = run;
  if (run) sessionStorage.setItem(RUN_KEY, JSON.stringify(run));
  else sessionStorage.removeItem(RUN_KEY);
}

function remembered() {
  try {
    return JSON.parse(sessionStorage.getItem(RUN_KEY) ?? "null");
  } catch {
    return null;
  }
}

function setSession(id) {
  state.sessionId = id;
  if (id) sessionStorage.setItem(SESSION_KEY, id);
  else sessionStorage.removeItem(SESSION_KEY);
}

function busy(on) {
  $("send").disabled = on;
  $("stop").hidden = !on;
  $("stop").disabled = false;
}

// ---- the conversation ----------------------------------------------------------------------

const passage = (source) => openPassage($("passage"), source);

function show(node) {
  const log = $("conversation");
  const atEnd = log.scrollHeight - log.scrollTop - log.clientHeight < 80;
  $("welcome").hidden = true;
  log.append(node);
  if (atEnd) node.scrollIntoView({ block: "end" });
}

// Follows `run` into `view` until its final event; `run.lastId` and `run.text` say where to resume.
async function stream(view, run) {
  remember(run);
  busy(true);
  view.streaming(true);
  const controller = new AbortController();
  state.follow = controller;
  try {
    const final = await followRun(run.runId, run.lastId, {
      signal: controller.signal,
      onEvent: (event) => {
        if (event.event === "message") view.append(event.data.delta);
        run.lastId = Number(String(event.id).split(":").pop());
        run.text = view.text;
        remember(run);
      },
      onRetry: (attempt, waitMs) =>
        say(`Cannot reach the server; trying again in ${Math.round(waitMs / 100) / 10} s (attempt ${attempt}).`),
      onLive: () => say(""),
    });
    view.streaming(false);
    if (final?.event === "source") view.showSources(final.data);
    else if (final?.event === "error") {
      view.ended(final.data.code, final.data.message);
      if (final.data.code !== "cancelled") say(final.data.message);
    }
    remember(null);
  } catch (error) {
    view.streaming(false);
    if (error.name === "AbortError") return; // another conversation was opened
    view.ended(error.code, error.message);
    sayError(error);
    if (error.status === 404) remember(null);
  } finally {
    if (state.follow === controller) {
      state.follow = null;
      busy(false);
    }
    sessions.refresh().catch(() => {});
  }
}

async function ask(question) {
  if (state.follow || state.asking) return;
  state.asking = true;
  try {
    await askNow(question);
  } finally {
    state.asking = false;
  }
}

async function askNow(question) {
  say("");
  const asked = questionView(question);
  show(asked);
  const view = new AnswerView(passage);
  show(view.root);
  busy(true);
  let started;
  try {
    started = await api.startRun({
      query: question,
      collection: $("collection").value || undefined,
      ...(state.sessionId ? { session_id: state.sessionId } : {}),
    });
  } catch (error) {
    asked.remove();
    view.root.remove();
    busy(false);
    sayError(error);
    $("question").value = question; // nothing was asked: keep the question to send again
    return;
  }
  setSession(started.session_id);
  sessions.refresh().catch(() => {});
  state.asking = false;
  await stream(view, { runId: started.run_id, sessionId: started.session_id, lastId: 0, text: "" });
}

function clearConversation() {
  state.follow?.abort();
  state.follow = null;
  busy(false);
  remember(null);
  $("conversation").replaceChildren($("welcome"));
  $("welcome").hidden = false;
}

async function openSession(id) {
  const saved = remembered();
  clearConversation();
  setSession(id);
  let detail = await api.session(id);
  if (detail.messages.total > detail.messages.items.length) {
    detail = await api.session(id, detail.messages.total - 100); // the latest page
  }
  if (detail.collection) chooseCollection(detail.collection);
  let last = null;
  for (const message of detail.messages.items) {
    if (message.role === "user") show(questionView(message.content));
    else show((last = AnswerView.stored(message, passage)).root);
  }
  await sessions.refresh();
  const running = (await api.activeRun(id)).items[0];
  if (!running || !last) return;
  // The answer is still being written: follow its run, after what this tab already showed.
  const resume = saved?.runId === running.run_id ? saved : { lastId: 0, text: "" };
  last.setText(resume.text);
  await stream(last, { runId: running.run_id, sessionId: id, lastId: resume.lastId, text: resume.text });
}

// ---- collections and uploads ---------------------------------------------------------------

function chooseCollection(name) {
  const select = $("collection");
  if (![...select.options].some((option) => option.value === name)) {
    select.append(new Option(name, name));
  }
  select.value = name;
  describeCollection();
}

let collections = [];

function describeCollection() {
  const found = collections.find((c) => c.name === $("collection").value);
  $("collection-info").textContent = found
    ? `${found.document_count} document${found.document_count === 1 ? "" : "s"}, ${found.chunk_count} passages`
    : "Empty: add files below.";
}

async function loadCollections() {
  collections = await api.collections();
  const select = $("collection");
  const wanted = select.value || localStorage.getItem(COLLECTION_KEY);
  const names = collections.map((collection) => collection.name);
  if (!names.includes("default")) names.unshift("default");
  select.replaceChildren(...names.map((name) => new Option(name, name)));
  // A newcomer's first look: the sample handbook, when `make run` ingested it.
  chooseCollection(wanted && names.includes(wanted) ? wanted : names.includes("samples") ? "samples" : "default");
}

// ---- sign-in -------------------------------------------------------------------------------

function askToSignIn() {
  const dialog = $("sign-in");
  if (!dialog.open) dialog.showModal();
  $("api-key").focus();
}

async function signIn(event) {
  event.preventDefault();
  $("sign-in-error").hidden = true;
  try {
    await api.signIn($("api-key").value.trim());
  } catch (error) {
    $("sign-in-error").textContent = error.status === 401 ? "That key was not accepted." : error.message;
    $("sign-in-error").hidden = false;
    return;
  }
  $("api-key").value = "";
  $("sign-in").close();
  localStorage.setItem("citestream.signedIn", "1");
  $("sign-out").hidden = false;
  say("");
  await start();
}

async function signOut() {
  await api.signOut().catch(() => {});
  localStorage.removeItem("citestream.signedIn");
  $("sign-out").hidden = true;
  clearConversation();
  setSession(null);
  askToSignIn();
}

// ---- wiring --------------------------------------------------------------------------------

const sessions = new SessionList($("sessions"), $("sessions-empty"), {
  onOpen: (id) => openSession(id).catch(sayError),
  onDeleted: (id) => {
    if (id === state.sessionId) {
      clearConversation();
      setSession(null);
    }
  },
  onError: sayError,
  current: () => state.sessionId,
});

async function start() {
  const reopening = state.sessionId; // the conversation this tab showed before a reload
  await loadCollections();
  await sessions.refresh();
  // A question asked meanwhile (right after signing in, on a slow server) owns the page now:
  // opening the old conversation would abort the answer it is following.
  if (reopening && state.sessionId === reopening && !state.follow && !state.asking) {
    await openSession(reopening);
  }
}

function wire() {
  initTheme($("theme"));
  onUnauthenticated(askToSignIn);
  $("ask").addEventListener("submit", (event) => {
    event.preventDefault();
    const question = $("question").value.trim();
    if (!question || state.follow || state.asking) return;
    $("question").value = "";
    ask(question).catch(sayError);
  });
  $("question").addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      $("ask").requestSubmit();
    }
  });
  $("stop").addEventListener("click", () => {
    if (!state.run) return;
    $("stop").disabled = true;
    api.cancelRun(state.run.runId).catch(sayError);
  });
  $("new-chat").addEventListener("click", () => {
    clearConversation();
    setSession(null);
    sessions.refresh().catch(sayError);
    $("question").focus();
  });
  $("collection").addEventListener("change", () => {
    localStorage.setItem(COLLECTION_KEY, $("collection").value);
    describeCollection();
  });
  $("choose-files").addEventListener("click", () => $("files").click());
  wireUploads($("dropzone"), $("files"), (files) =>
    uploadFiles(files, $("collection").value || "default", $("uploads"), {
      onUnauthenticated: askToSignIn,
      onDone: (changed) => changed && loadCollections().catch(sayError),
    }),
  );
  $("passage-close").addEventListener("click", () => $("passage").close());
  $("sign-in-form").addEventListener("submit", (event) => signIn(event).catch(sayError));
  $("sign-out").addEventListener("click", () => signOut().catch(sayError));
  $("sign-out").hidden = !localStorage.getItem("citestream.signedIn");
}

wire();
start().catch((error) => {
  if (error.status === 404 && state.sessionId) {
    setSession(null); // the remembered conversation was deleted meanwhile
    return start().catch(sayError);
  }
  if (error.status !== 401) sayError(error);
  return undefined;
});
