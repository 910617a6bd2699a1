// Reads a UI message stream (the HTTP body) from stdin and parses it as `DefaultChatTransport`
// does a response, validating each part against the SDK's schemas, then builds the message with
// `readUIMessageStream`. Run by tests/api/test_ai_sdk_parts.py.
// Prints one JSON line: {message, chunk_types, errors, failure?}.

import { Readable } from "node:stream";
import { DefaultChatTransport, readUIMessageStream } from "ai";

const body = Readable.toWeb(process.stdin);
const chunkTypes = [];
const errors = [];
const result = { message: null, chunk_types: chunkTypes, errors };
try {
  const parts = new DefaultChatTransport().processResponseStream(body).pipeThrough(
    new TransformStream({
      transform(chunk, controller) {
        chunkTypes.push(chunk.type);
        controller.enqueue(chunk);
      },
    }),
  );
  const messages = readUIMessageStream({
    stream: parts,
    onError: (error) => errors.push(String(error?.message ?? error)),
  });
  for await (const message of messages) result.message = message;
} catch (error) {
  result.failure = String(error?.message ?? error);
}
console.log(JSON.stringify(result));
