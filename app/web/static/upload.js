// Adding files to a collection: drag-and-drop or a file picker, one request per file so that
// each file shows its own progress and its own result.

import { explain } from "./api.js";

function uploadOne(file, collection, onProgress) {
  return new Promise((resolve) => {
    const form = new FormData();
    form.append("files", file, file.name);
    form.append("collection", collection);
    const request = new XMLHttpRequest();
    request.open("POST", "/api/documents");
    request.setRequestHeader("Accept", "application/json");
    request.upload.addEventListener("progress", (event) => {
      if (event.lengthComputable) onProgress(event.loaded / event.total);
    });
    request.addEventListener("load", () => {
      let body = null;
      try {
        body = JSON.parse(request.responseText);
      } catch {
        body = null;
      }
      if (request.status >= 200 && request.status < 300 && body?.documents?.length) {
        resolve({ ok: true, outcome: body.documents[0].outcome, document: body.documents[0].document });
      } else {
        const retryAfter = request.getResponseHeader("Retry-After");
        resolve({ ok: false, status: request.status, reason: explain(request.status, body, retryAfter) });
      }
    });
    request.addEventListener("error", () =>
      resolve({ ok: false, status: 0, reason: "Cannot reach the server." }),
    );
    request.send(form);
  });
}

function row(file) {
  const item = document.createElement("li");
  item.className = "upload";
  const name = document.createElement("span");
  name.className = "upload-name";
  name.textContent = file.name; // a hostile file name is shown, never parsed
  const progress = document.createElement("progress");
  progress.max = 1;
  progress.value = 0;
  progress.setAttribute("aria-label", `Uploading ${file.name}`);
  const result = document.createElement("span");
  result.className = "upload-result";
  result.textContent = "waiting";
  item.append(name, progress, result);
  return { item, progress, result };
}

/** Uploads `files` into `collection()` one after another, listing each in `list`. */
export async function uploadFiles(files, collection, list, { onUnauthenticated, onDone }) {
  const rows = [...files].map((file) => ({ file, ...row(file) }));
  for (const { item } of rows) list.prepend(item);
  let changed = false;
  for (const { file, progress, result } of rows) {
    result.textContent = "uploading…";
    const outcome = await uploadOne(file, collection, (fraction) => {
      progress.value = fraction;
    });
    progress.value = 1;
    if (outcome.ok) {
      result.textContent = outcome.outcome; // added, updated or unchanged
      result.className = `upload-result ${outcome.outcome}`;
      changed ||= outcome.outcome !== "unchanged";
    } else {
      result.textContent = `failed: ${outcome.reason}`;
      result.className = "upload-result failed";
      if (outcome.status === 401) onUnauthenticated();
    }
  }
  onDone(changed);
}

/** Wires the drop zone and the file input. */
export function wireUploads(zone, input, start) {
  zone.addEventListener("dragover", (event) => {
    event.preventDefault();
    zone.classList.add("over");
  });
  zone.addEventListener("dragleave", () => zone.classList.remove("over"));
  zone.addEventListener("drop", (event) => {
    event.preventDefault();
    zone.classList.remove("over");
    if (event.dataTransfer?.files?.length) start(event.dataTransfer.files);
  });
  input.addEventListener("change", () => {
    if (input.files.length) start(input.files);
    input.value = "";
  });
}
