// Files larger than one part go to the storage in parts (POST /upload/multipart). Before sending,
// the page asks which parts the storage already holds, so an interrupted upload goes on from the
// last acknowledged part: after a dropped connection (it waits for the browser to be back
// online), after Retry, or after a reload. What a reload needs, the upload's id and how far it
// got, is kept in the tab's sessionStorage (as the sign-in is: it survives a reload, not the
// tab, and no other tab sees it); the file itself never is, so the user chooses it again.

import { putFile } from './api.js';

/** Files larger than this go in parts: the API's default part size, 5 MiB. */
export const MULTIPART_ABOVE_BYTES = 5 * 1024 * 1024;

const STORE_PREFIX = 'image-upload:multipart:';
/** Waits before sending a part again after a failure while the browser says it is online. */
const RETRY_DELAYS_MS = [1000, 2000, 4000, 8000];

/** The tab's storage, or null where the browser refuses it (resuming after a reload is then off). */
function storage() {
  try {
    return window.sessionStorage;
  } catch {
    return null;
  }
}

/**
 * The interrupted uploads kept for `owner`, oldest first: `{ imageId, fileName, fileSize,
 * lastModified, partCount, done }` (`done`: the parts acknowledged when last seen).
 */
export function storedUploads(owner) {
  const store = storage();
  if (!store) return [];
  const keys = Array.from({ length: store.length }, (_, i) => store.key(i)).filter((key) =>
    key?.startsWith(STORE_PREFIX),
  );
  const found = [];
  for (const key of keys) {
    try {
      const stored = JSON.parse(store.getItem(key));
      if (stored.owner === owner) found.push(stored);
    } catch {
      store.removeItem(key); // Damaged: nothing to resume from.
    }
  }
  return found.sort((a, b) => a.startedAt - b.startedAt);
}

/** Keeps (or updates) what a reload needs to offer the upload `imageId` of `file` again. */
export function remember(owner, imageId, file, partCount, done) {
  const key = STORE_PREFIX + imageId;
  try {
    const store = storage();
    if (!store) return;
    let startedAt = Date.now();
    try {
      startedAt = JSON.parse(store.getItem(key))?.startedAt ?? startedAt;
    } catch {
      // Damaged: written anew below.
    }
    const stored = { owner, imageId, fileName: file.name, fileSize: file.size, lastModified: file.lastModified, partCount, done, startedAt };
    store.setItem(key, JSON.stringify(stored));
  } catch {
    // Storage full or refused: the upload goes on; only resuming after a reload is lost.
  }
}

/** Drops what was kept about an upload (finished or discarded). */
export function forget(imageId) {
  try {
    storage()?.removeItem(STORE_PREFIX + imageId);
  } catch {
    // Refused: nothing was kept either.
  }
}

/** Whether `file` is the file a stored upload was started with (as far as a browser can tell). */
export function sameFile(stored, file) {
  return file.name === stored.fileName && file.size === stored.fileSize && file.lastModified === stored.lastModified;
}

/**
 * Sends the parts of `file` the storage does not hold yet, then completes the upload.
 *
 * `hooks`: `current()` (false once the attempt is stopped: give up quietly), `onProgress(fraction)`,
 * `onState(text)`, `onPartDone(doneCount, partCount)`, `setTransfer(transfer | null)` (so it can be
 * aborted). Resolves when completed; rejects with the error that ended it (`reason` 'aborted' when
 * stopped).
 */
export async function sendParts(api, imageId, file, hooks) {
  const stopped = () => Object.assign(new Error('Upload cancelled.'), { reason: 'aborted' });
  const listed = await retrying(() => api.listParts(imageId), hooks);
  const { partSize, partCount } = listed;
  if (listed.fileSize !== file.size) {
    throw new Error('This is not the file the upload was started with: its size differs.');
  }
  const length = (n) => Math.min(partSize, file.size - (n - 1) * partSize);
  const held = new Set(listed.parts.filter((p) => p.size === length(p.partNumber)).map((p) => p.partNumber));
  let doneBytes = [...held].reduce((sum, n) => sum + length(n), 0);
  hooks.onProgress(doneBytes / file.size);
  for (let n = 1; n <= partCount; n += 1) {
    if (held.has(n)) continue;
    if (!hooks.current()) throw stopped();
    const start = (n - 1) * partSize;
    const blob = file.slice(start, start + length(n));
    await retrying(async () => {
      // A part URL lives a few minutes: each try signs afresh.
      const part = await api.signPart(imageId, n);
      if (!hooks.current()) throw stopped();
      const transfer = putFile(part, blob, (fraction) => {
        if (hooks.current()) hooks.onProgress((doneBytes + fraction * blob.size) / file.size);
      });
      hooks.setTransfer(transfer);
      try {
        await transfer.promise;
      } finally {
        if (hooks.current()) hooks.setTransfer(null);
      }
    }, hooks);
    held.add(n);
    doneBytes += blob.size;
    if (hooks.current()) hooks.onPartDone(held.size, partCount);
  }
  if (!hooks.current()) throw stopped();
  await retrying(() => api.completeMultipart(imageId), hooks);
}

/**
 * Whether a failure may pass by itself: no answer (a network error), an expired part URL (403: the
 * next try signs afresh), or a busy or failing service or storage (429, 5xx).
 */
function passing(err) {
  if (err.reason === 'aborted') return false;
  if (err.reason === 'network' || err.reason === 'expired') return true;
  const status = err.status ?? 0;
  return status === 429 || status >= 500;
}

/**
 * Runs `step` until it succeeds. A failure that may pass is tried again: once the browser is back
 * online, or after a short wait while it says it is online (four times); anything else ends it.
 */
async function retrying(step, hooks) {
  for (let failures = 0; ; failures += 1) {
    try {
      return await step();
    } catch (err) {
      if (!passing(err) || !hooks.current()) throw err;
      if (!navigator.onLine) {
        hooks.onState('Offline: the upload goes on when the connection is back…');
        await new Promise((resolve) => window.addEventListener('online', resolve, { once: true }));
        if (!hooks.current()) throw err;
        hooks.onState('Uploading…');
        failures = -1;
        continue;
      }
      if (failures >= RETRY_DELAYS_MS.length) throw err;
      await new Promise((resolve) => setTimeout(resolve, RETRY_DELAYS_MS[failures]));
      if (!hooks.current()) throw err;
    }
  }
}
