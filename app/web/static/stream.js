// Following a run's Server-Sent Events with fetch, and resuming them after a dropped connection.

import { failure, unreachable } from "./api.js";

// Reconnection waits: 0.5 s, 1 s, 2 s, 4 s, then 8 s, for about a minute in all.
const MAX_ATTEMPTS = 10;
const backoffMs = (attempt) => Math.min(500 * 2 ** (attempt - 1), 8000);

// Yields {event, id, data} for every event of an SSE response; heartbeat comments are skipped.
export async function* readEvents(response) {
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += value;
      let end;
      while ((end = buffer.match(/\r\n\r\n|\n\n|\r\r/))) {
        const block = buffer.slice(0, end.index);
        buffer = buffer.slice(end.index + end[0].length);
        let event = "message";
        let id = null;
        const data = [];
        for (const line of block.split(/\r\n|\n|\r/)) {
          if (line.startsWith(":")) continue;
          if (line.startsWith("event:")) event = line.slice(6).trim();
          if (line.startsWith("id:")) id = line.slice(3).trim();
          if (line.startsWith("data:")) data.push(line.slice(5).replace(/^ /, ""));
        }
        if (data.length) yield { event, id, data: JSON.parse(data.join("\n")) };
      }
    }
  } finally {
    reader.releaseLock();
  }
}

function sleep(ms, signal) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener("abort", () => {
      clearTimeout(timer);
      reject(new DOMException("Aborted", "AbortError"));
    });
  });
}

// The number of an event id: `7`, or `<run_id>:7` from GET /api/chat/stream.
const numberOf = (id) => Number(String(id).split(":").pop());

/**
 * Follows run `runId` from the event after `lastId` (0: from the start) until its final event,
 * which it returns. A dropped connection is resumed with Last-Event-ID, so no event is seen twice.
 * `onEvent(event)` sees every event; `onRetry(attempt, waitMs)` each reconnection; `onLive()` a
 * connection that delivers again.
 */
export async function followRun(runId, lastId, { onEvent, onRetry, onLive, signal }) {
  let after = lastId;
  let attempt = 0;
  for (;;) {
    let response = null;
    try {
      const headers = { Accept: "text/event-stream" };
      if (after > 0) headers["Last-Event-ID"] = String(after);
      response = await fetch(`/api/runs/${encodeURIComponent(runId)}/events`, { headers, signal });
    } catch (error) {
      if (error.name === "AbortError") throw error;
    }
    // 204: the final event is already behind `after`; nothing more will come.
    if (response?.status === 204) return null;
    if (response && !response.ok && !(response.status >= 502 && response.status <= 504)) {
      throw await failure(response); // 404: the run is gone (ended too long ago, or restarted)
    }
    if (response?.ok) {
      try {
        for await (const event of readEvents(response)) {
          if (attempt > 0) onLive?.();
          attempt = 0;
          after = numberOf(event.id);
          onEvent(event);
          if (event.event === "source" || event.event === "error") return event;
        }
      } catch (error) {
        if (error.name === "AbortError") throw error;
      }
    }
    attempt += 1;
    if (attempt > MAX_ATTEMPTS) throw unreachable();
    const wait = backoffMs(attempt);
    onRetry?.(attempt, wait);
    await sleep(wait, signal);
  }
}
