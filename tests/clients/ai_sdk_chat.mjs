// The Vercel AI SDK's own client against a live Citestream: `DefaultChatTransport` (whose
// parser validates every part against the SDK's schemas) and `readUIMessageStream`, which builds
// the assistant message as `useChat` shows it. Run by tests/api/test_ai_sdk.py.
//
//   node ai_sdk_chat.mjs '<json>'   with {url, api_key?, chat_id, action, ...}
//     action "send":   {question, collection?, abort_after_deltas?, stop_after_deltas?}
//     action "resume": {}  (reconnectToStream: what useChat({resume: true}) calls on load)
//     action "reload": "send" with abort_after_deltas, then "resume" at once
// Prints one JSON line: {status, message, chunk_types, error?, stop?}, or {aborted, resumed}.

import { DefaultChatTransport, readUIMessageStream } from "ai";

const options = JSON.parse(process.argv[2]);
const api = `${options.url}/api/ai-sdk/chat`;
const headers = options.api_key ? { Authorization: `Bearer ${options.api_key}` } : {};
const transport = new DefaultChatTransport({
  api,
  headers,
  body: options.collection ? { collection: options.collection } : undefined,
});

// Notes each part as the transport hands it over, and acts after the n-th text delta.
function watch(stream, chunkTypes, abort, abortAfter) {
  let deltas = 0;
  return stream.pipeThrough(
    new TransformStream({
      async transform(chunk, controller) {
        chunkTypes.push(chunk.type);
        controller.enqueue(chunk);
        if (chunk.type !== "text-delta") return;
        deltas += 1;
        if (deltas === abortAfter) abort.abort(); // what chat.stop() does
        if (deltas === options.stop_after_deltas) {
          const url = `${api}/${encodeURIComponent(options.chat_id)}/stop`;
          const response = await fetch(url, { method: "POST", headers });
          result.stop = { status: response.status, body: await response.json() };
        }
      },
    }),
  );
}

async function open(action, abort) {
  if (action === "resume") return transport.reconnectToStream({ chatId: options.chat_id });
  const messages = [
    { id: "user-1", role: "user", parts: [{ type: "text", text: options.question }] },
  ];
  return transport.sendMessages({
    chatId: options.chat_id,
    messages,
    trigger: "submit-message",
    messageId: undefined,
    abortSignal: abort.signal,
  });
}

// One request read to its end (or its abort): what the chat would show.
async function read(action) {
  const abort = new AbortController();
  const outcome = { status: "complete", message: null, chunk_types: [] };
  try {
    const stream = await open(action, abort);
    if (stream === null) return { ...outcome, status: "idle" };
    const errors = [];
    const messages = readUIMessageStream({
      stream: watch(stream, outcome.chunk_types, abort, action === "send" && options.abort_after_deltas),
      onError: (error) => errors.push(String(error?.message ?? error)),
    });
    for await (const message of messages) outcome.message = message;
    if (abort.signal.aborted) outcome.status = "aborted";
    else if (errors.length) outcome.error = errors.join("; ");
  } catch (error) {
    outcome.status = abort.signal.aborted ? "aborted" : "failed";
    outcome.error = String(error?.message ?? error);
  }
  return outcome;
}

const result = {};
if (options.action === "reload") {
  // The page reloads mid-answer: the fetch is aborted, then useChat({resume: true}) reconnects.
  result.aborted = await read("send");
  result.resumed = await read("resume");
} else {
  Object.assign(result, await read(options.action));
}
console.log(JSON.stringify(result));
