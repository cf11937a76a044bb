// The upload page: sign-in (when the API needs it), uploads with a progress bar each, and the
// caller's gallery. Plain ES modules, no build step: these files are the whole page.

import { Api, ApiFailure, putFile } from './api.js';
import { Session } from './auth.js';
import { EXTENSIONS, TYPE_NAMES, formatBytes, rejectionMessage } from './messages.js';
import { MULTIPART_ABOVE_BYTES, forget, remember, sameFile, sendParts, storedUploads } from './multipart.js';

const DEFAULT_PAGE_SIZE = 12;
const POLL_INTERVAL_MS = 1000;
/** How long to watch an upload being checked before leaving it to the gallery. */
const POLL_ATTEMPTS = 120;

const $ = (id) => document.getElementById(id);

let config;
let session = null;
let api;
let pageSize = DEFAULT_PAGE_SIZE;
/** The cursor of each gallery page visited so far; the last is the page shown (null: the first). */
let cursors = [null];
let galleryRefresh = null;
/** Uploads in progress, so signing out can stop them. */
const uploads = new Set();

main();

async function main() {
  try {
    const response = await fetch('config.json', { cache: 'no-cache' });
    if (!response.ok) throw new Error(String(response.status));
    config = await response.json();
  } catch {
    $('loading').hidden = true;
    showFatal('The page’s settings (config.json) could not be loaded, so it cannot reach the service.');
    return;
  }
  const requested = Number(new URLSearchParams(location.search).get('limit'));
  if (Number.isInteger(requested) && requested >= 1 && requested <= 100) pageSize = requested;

  if (config.auth) {
    session = new Session(config.auth, { onSignedOut: showSignIn });
  }
  api = new Api(config.apiUrl ?? '', session, {
    onUnauthorized: () => session?.signOut('Your session has ended. Please sign in again.'),
  });
  wireEvents();
  $('limits').textContent = limitsText();
  $('file-input').accept = [
    ...config.limits.allowedTypes,
    ...config.limits.allowedTypes.flatMap((t) => (EXTENSIONS[t] ?? []).map((e) => `.${e}`)),
  ].join(',');
  $('loading').hidden = true;
  if (!session || session.signedIn) showApp();
  else showSignIn('');
}

function wireEvents() {
  $('sign-in-form').addEventListener('submit', signIn);
  $('sign-out').addEventListener('click', () => session.signOut('You have signed out.'));
  $('file-input').addEventListener('change', (event) => {
    addFiles(event.target.files);
    event.target.value = '';
  });
  const zone = $('drop-zone');
  for (const type of ['dragenter', 'dragover']) {
    zone.addEventListener(type, (event) => {
      event.preventDefault();
      zone.classList.add('dragging');
    });
  }
  zone.addEventListener('dragleave', () => zone.classList.remove('dragging'));
  zone.addEventListener('drop', (event) => {
    event.preventDefault();
    zone.classList.remove('dragging');
    addFiles(event.dataTransfer.files);
  });
  // A file dropped beside the zone must not replace the page with the file.
  for (const type of ['dragover', 'drop']) window.addEventListener(type, (event) => event.preventDefault());
  $('older').addEventListener('click', () => {
    cursors.push($('older').dataset.cursor);
    loadGallery();
  });
  $('newer').addEventListener('click', () => {
    if (cursors.length > 1) cursors.pop();
    loadGallery();
  });
}

async function signIn(event) {
  event.preventDefault();
  const username = $('username').value.trim();
  const password = $('password').value;
  const error = $('sign-in-error');
  error.hidden = true;
  if (!username || !password) {
    error.textContent = 'Enter your email and password.';
    error.hidden = false;
    return;
  }
  const button = $('sign-in-button');
  button.disabled = true;
  button.textContent = 'Signing in…';
  try {
    await session.signIn(username, password);
    $('password').value = '';
    showApp();
  } catch (err) {
    error.textContent = err.message;
    error.hidden = false;
  } finally {
    button.disabled = false;
    button.textContent = 'Sign in';
  }
}

function showSignIn(reason) {
  for (const upload of uploads) upload.stop();
  uploads.clear();
  clearTimeout(galleryRefresh);
  // A gallery answer still on its way belongs to the user who just left: make it stale.
  galleryRequest += 1;
  $('uploads').replaceChildren();
  $('images').replaceChildren();
  cursors = [null];
  $('app').hidden = true;
  $('who').hidden = true;
  $('sign-in').hidden = false;
  $('signed-out-note').textContent = reason;
  $('username').focus();
}

function showApp() {
  $('sign-in').hidden = true;
  $('app').hidden = false;
  $('who').hidden = false;
  if (session) {
    $('who-name').textContent = `Signed in as ${session.displayName}`;
    $('sign-out').hidden = false;
  } else {
    $('who-name').textContent = 'No sign-in needed: this service takes anonymous uploads';
    $('sign-out').hidden = true;
  }
  // Nothing of an earlier session shows while this user's first page loads.
  $('images').replaceChildren();
  cursors = [null];
  loadGallery();
  for (const offered of $('uploads').querySelectorAll('[data-state="interrupted"]')) offered.remove();
  offerResumes();
}

function limitsText() {
  const types = config.limits.allowedTypes.map((t) => TYPE_NAMES[t] ?? t).join(', ');
  return `${types}; up to ${formatBytes(config.limits.maxUploadBytes)} each.`;
}

function announce(text) {
  $('announcer').textContent = text;
}

function showFatal(text) {
  $('fatal').textContent = text;
  $('fatal').hidden = false;
}

// ---- Uploads ----

/** The first wait for room, and the longest, when no upload of this page ends meanwhile. */
const ROOM_WAIT_SECONDS = 30;
const ROOM_WAIT_MAX_SECONDS = 300;

/** Uploads waiting for room among the user's uploads in flight: each a function that wakes it. */
const waitingForRoom = [];

/** One of this page's uploads ended: the upload that has waited longest asks again. */
function roomFreed() {
  waitingForRoom.shift()?.();
}

/** Resolves when one of this page's uploads ends, or after `seconds`. */
function waitForRoom(seconds) {
  return new Promise((resolve) => {
    const wake = () => {
      clearTimeout(timer);
      const waiting = waitingForRoom.indexOf(wake);
      if (waiting >= 0) waitingForRoom.splice(waiting, 1);
      resolve();
    };
    const timer = setTimeout(wake, seconds * 1000);
    waitingForRoom.push(wake);
  });
}

function addFiles(fileList) {
  for (const file of fileList) {
    const upload = new Upload(file);
    $('uploads').prepend(upload.element);
    upload.start();
  }
}

/**
 * The two names systems give an HEVC photo interchangeably (Debian's MIME database calls a `.heic`
 * file `image/heif`); the API accepts one under either, so the file name's extension decides.
 */
const HEIF_TYPES = ['image/heic', 'image/heif'];

/** What the browser can tell about a file before asking the API: its type, or why not. */
function checkFile(file) {
  const extension = file.name.includes('.') ? file.name.split('.').pop().toLowerCase() : '';
  const byExtension = Object.keys(EXTENSIONS).find((t) => EXTENSIONS[t].includes(extension));
  const type =
    HEIF_TYPES.includes(file.type) && HEIF_TYPES.includes(byExtension)
      ? byExtension
      : file.type || byExtension || '';
  if (!config.limits.allowedTypes.includes(type)) {
    return { problem: `Not uploaded: only ${limitsText().split(';')[0]} images are accepted.` };
  }
  if (!(EXTENSIONS[type] ?? []).includes(extension)) {
    return {
      problem: `Not uploaded: a ${TYPE_NAMES[type]} image’s name must end in .${EXTENSIONS[type].join(' or .')}.`,
    };
  }
  if (file.size === 0) return { problem: 'Not uploaded: the file is empty.' };
  if (file.size > config.limits.maxUploadBytes) {
    return {
      problem: `Not uploaded: the file is ${formatBytes(file.size)}; the limit is ${formatBytes(config.limits.maxUploadBytes)}.`,
    };
  }
  return { type };
}

/** Whose interrupted uploads this browser may offer to resume. */
function owner() {
  return session ? session.displayName : 'anonymous';
}

/**
 * The multipart uploads a reload interrupted: each offered to resume (the user chooses the same
 * file again; the parts already sent are not sent again) or to discard (the upload is aborted).
 */
async function offerResumes() {
  for (const stored of storedUploads(owner())) {
    // Only an upload still open is offered: one completed (its answer lost to the reload) is in
    // the gallery, and one gone cannot be resumed.
    let open = true;
    try {
      await api.listParts(stored.imageId);
    } catch (err) {
      open = !(err.code === 'UPLOAD_NOT_ACTIVE' || err.code === 'UPLOAD_NOT_FOUND');
    }
    if (!open) {
      forget(stored.imageId);
      continue;
    }
    const li = document.createElement('li');
    li.className = 'upload';
    li.dataset.state = 'interrupted';
    li.dataset.imageId = stored.imageId;
    li.dataset.fileName = stored.fileName;
    const name = document.createElement('span');
    name.className = 'name';
    name.textContent = `${stored.fileName} (${formatBytes(stored.fileSize)})`;
    const state = document.createElement('p');
    state.className = 'state';
    state.setAttribute('role', 'status');
    state.textContent = `Interrupted after ${stored.done} of ${stored.partCount} parts. Choose the same file to go on from there, or discard it.`;
    const input = document.createElement('input');
    input.type = 'file';
    input.hidden = true;
    input.setAttribute('aria-label', `Choose ${stored.fileName} again to resume its upload`);
    input.addEventListener('change', () => {
      const file = input.files[0];
      if (!file) return;
      if (!sameFile(stored, file)) {
        state.textContent = `That is not the same file (its name, size or date differ). Choose ${stored.fileName} again, or discard it.`;
        return;
      }
      const upload = new Upload(file, stored.imageId);
      li.replaceWith(upload.element);
      upload.start();
    });
    const resume = button('Resume', `Resume uploading ${stored.fileName}`, () => input.click());
    const discard = button('Discard', `Discard the interrupted upload of ${stored.fileName}`, async () => {
      try {
        await api.deleteImage(stored.imageId);
      } catch (err) {
        state.textContent = err.message;
        return;
      }
      forget(stored.imageId);
      li.remove();
      announce(`The interrupted upload of ${stored.fileName} was discarded.`);
    }, 'secondary');
    const actions = document.createElement('span');
    actions.className = 'actions';
    actions.append(resume, discard, input);
    li.append(name, actions, state);
    $('uploads').append(li);
  }
}

/** One file's journey: checked, given a URL, PUT with progress, then watched until settled. */
class Upload {
  /** `imageId`: the multipart upload of this file to resume, if any. */
  constructor(file, imageId = null) {
    this.file = file;
    this.imageId = imageId;
    this.transfer = null;
    /** Each start and each stop bumps it: a reply for an earlier attempt is stale and dropped. */
    this.attempt = 0;
    const li = document.createElement('li');
    li.className = 'upload';
    li.dataset.fileName = file.name;
    const name = document.createElement('span');
    name.className = 'name';
    name.textContent = `${file.name} (${formatBytes(file.size)})`;
    const actions = document.createElement('span');
    actions.className = 'actions';
    this.cancelButton = button('Cancel', `Cancel uploading ${file.name}`, () => this.cancel(), 'secondary');
    this.retryButton = button('Retry', `Retry uploading ${file.name}`, () => this.start(), 'secondary');
    actions.append(this.cancelButton, this.retryButton);
    this.progress = document.createElement('progress');
    this.progress.max = 100;
    this.progress.value = 0;
    this.progress.setAttribute('aria-label', `Upload of ${file.name}`);
    this.state = document.createElement('p');
    this.state.className = 'state';
    this.state.setAttribute('role', 'status');
    li.append(name, actions, this.progress, this.state);
    this.element = li;
    this.setButtons({ cancel: false, retry: false });
  }

  setButtons({ cancel, retry }) {
    this.cancelButton.hidden = !cancel;
    this.retryButton.hidden = !retry;
  }

  setState(text, kind = '') {
    this.state.textContent = text;
    this.state.className = `state ${kind}`;
    this.element.dataset.state = kind || 'working';
  }

  setProgress(fraction) {
    const percent = Math.round(fraction * 100);
    this.progress.value = percent;
    this.progress.textContent = `${percent} %`;
  }

  async start() {
    const checked = checkFile(this.file);
    if (checked.problem) {
      this.progress.hidden = true;
      this.setState(checked.problem, 'failed');
      return;
    }
    uploads.add(this);
    const attempt = (this.attempt += 1);
    const current = () => attempt === this.attempt;
    if (this.file.size > MULTIPART_ABOVE_BYTES) return this.startMultipart(checked, current);
    // A retry starts over with a new URL; the abandoned image (if any) is deleted.
    this.discard();
    this.setProgress(0);
    this.setState('Asking for an upload link…');
    this.setButtons({ cancel: true, retry: false });
    let upload;
    try {
      upload = await this.admitted(() => api.createUpload(this.file, checked.type), current);
    } catch (err) {
      if (current()) this.fail(err.message);
      return;
    }
    // Cancelled (and perhaps retried) while the link was on its way: that image is abandoned.
    if (!current()) return deleteAbandoned(upload.imageId);
    this.imageId = upload.imageId;
    this.element.dataset.imageId = upload.imageId;
    this.setState('Uploading…');
    const transfer = putFile(upload, this.file, (fraction) => {
      if (current()) this.setProgress(fraction);
    });
    this.transfer = transfer;
    try {
      await transfer.promise;
    } catch (err) {
      if (current() && err.reason !== 'aborted') this.fail(err.message);
      return;
    } finally {
      if (this.transfer === transfer) this.transfer = null;
    }
    if (!current()) return;
    await this.uploaded(current);
  }

  /**
   * The API's answer to `ask` (a new upload), asked again while the user's other uploads fill
   * their limit of uploads in flight: each time one of this page's uploads ends, or after a wait
   * that doubles from 30 s to 5 minutes (uploads of other tabs end unseen here). Dropping many
   * files at once uploads them all, a few at a time, with one request per upload that ends
   * rather than a poll per waiting file. Any other failure, or a stop, ends it.
   */
  async admitted(ask, current) {
    let patience = ROOM_WAIT_SECONDS;
    for (;;) {
      try {
        return await ask();
      } catch (err) {
        if (err.code !== 'TOO_MANY_UPLOADS_IN_FLIGHT' || !current()) throw err;
        this.setState('Waiting for your other uploads to finish…');
        await waitForRoom(Math.max(err.retryAfter ?? 0, patience));
        patience = Math.min(patience * 2, ROOM_WAIT_MAX_SECONDS);
        if (!current()) throw err;
        this.setState('Asking for an upload link…');
      }
    }
  }

  /**
   * In parts: a new multipart upload, or the one this file already has (a Retry, a resume after a
   * reload), going on from the parts the storage holds.
   */
  async startMultipart(checked, current) {
    this.setButtons({ cancel: true, retry: false });
    if (!this.imageId) {
      this.setProgress(0);
      this.setState('Asking for an upload link…');
      let upload;
      try {
        upload = await this.admitted(() => api.startMultipart(this.file, checked.type), current);
      } catch (err) {
        if (current()) this.fail(err.message);
        return;
      }
      if (!current()) return deleteAbandoned(upload.imageId);
      this.imageId = upload.imageId;
      remember(owner(), upload.imageId, this.file, upload.partCount, 0);
    }
    const imageId = this.imageId;
    this.element.dataset.imageId = imageId;
    this.setState('Uploading…');
    try {
      await sendParts(api, imageId, this.file, {
        current,
        onProgress: (fraction) => current() && this.setProgress(fraction),
        onState: (text) => current() && this.setState(text),
        onPartDone: (done, partCount) => remember(owner(), imageId, this.file, partCount, done),
        setTransfer: (transfer) => {
          this.transfer = transfer;
        },
      });
    } catch (err) {
      if (!current() || err.reason === 'aborted') return;
      if (err.code === 'UPLOAD_NOT_ACTIVE' && (await this.completedBefore(imageId))) {
        // A completion whose answer was lost: the image is there, being checked or settled.
        forget(imageId);
        if (current()) await this.uploaded(current);
        return;
      }
      if (err.code === 'UPLOAD_NOT_FOUND' || err.code === 'UPLOAD_NOT_ACTIVE') {
        // Nothing left to resume: a Retry starts a new upload.
        forget(imageId);
        this.imageId = null;
      }
      this.fail(err.message);
      return;
    }
    forget(imageId);
    if (!current()) return;
    await this.uploaded(current);
  }

  /**
   * Whether the multipart upload of `imageId` was completed although the page was not told (its
   * object exists): the image is settled, or PENDING without an upload to send parts to.
   */
  async completedBefore(imageId) {
    try {
      const image = await api.getImage(imageId);
      if (image.status !== 'PENDING') return true;
      await api.listParts(imageId);
      return false; // Still open: it was not completed.
    } catch (err) {
      return err.code === 'UPLOAD_NOT_ACTIVE';
    }
  }

  /** The bytes are in the storage: watch the service check them. */
  async uploaded(current) {
    this.setButtons({ cancel: false, retry: false });
    this.setState('Uploaded. Checking the image…', 'pending');
    announce(`${this.file.name} uploaded; checking it.`);
    await this.watch(current);
  }

  /** Polls the image until the processor settles it, while `current()` says this attempt lives. */
  async watch(current) {
    for (let poll = 0; poll < POLL_ATTEMPTS && current(); poll += 1) {
      await new Promise((resolve) => setTimeout(resolve, POLL_INTERVAL_MS));
      if (!current()) return;
      let image;
      try {
        image = await api.getImage(this.imageId);
      } catch (err) {
        if (!current()) return;
        if (err instanceof ApiFailure && err.code === 'IMAGE_NOT_FOUND') {
          this.setState('This image was deleted.', 'failed');
          this.ended();
          return;
        }
        continue; // A brief outage: keep watching.
      }
      if (!current()) return;
      if (image.status === 'READY') {
        this.setState(`Ready: ${image.width} × ${image.height} pixels.`, 'ready');
        announce(`${this.file.name} is ready.`);
        return this.settled();
      }
      if (image.status === 'REJECTED') {
        this.setState(`Rejected: ${rejectionMessage(image.rejectionReason)}`, 'rejected');
        announce(`${this.file.name} was rejected.`);
        return this.settled();
      }
    }
    if (current()) {
      this.setState('Still being checked; it will show in the gallery when done.', 'pending');
      this.ended();
    }
  }

  settled() {
    this.ended();
    if (cursors.length === 1) loadGallery();
  }

  fail(message) {
    this.setState(message, 'failed');
    this.setButtons({ cancel: false, retry: true });
    this.ended();
  }

  /** No longer under way here: an upload waiting for room may ask again. */
  ended() {
    if (uploads.delete(this)) roomFreed();
  }

  cancel() {
    this.stop();
    this.discard();
    this.setState('Cancelled.', 'failed');
    this.setButtons({ cancel: false, retry: true });
    announce(`Upload of ${this.file.name} cancelled.`);
  }

  /** Stops the PUT and the watching, without a word (signing out, cancelling). */
  stop() {
    this.attempt += 1;
    this.transfer?.abort();
    this.ended();
  }

  /** Deletes the image of an abandoned upload, so no stale PENDING entry stays in the gallery. */
  discard() {
    if (!this.imageId) return;
    const imageId = this.imageId;
    forget(imageId);
    this.imageId = null;
    delete this.element.dataset.imageId;
    deleteAbandoned(imageId);
  }
}

/** Deletes the image of an abandoned upload attempt, quietly. */
function deleteAbandoned(imageId) {
  api.deleteImage(imageId).then(
    () => (cursors.length === 1 ? loadGallery() : undefined),
    () => {}, // It expires on its own (PENDING rows have a time to live).
  );
}

function button(text, label, onClick, kind = '') {
  const element = document.createElement('button');
  element.type = 'button';
  element.textContent = text;
  if (label) element.setAttribute('aria-label', label);
  if (kind) element.className = kind;
  element.addEventListener('click', onClick);
  return element;
}

// ---- Gallery ----

let galleryRequest = 0;

async function loadGallery() {
  clearTimeout(galleryRefresh);
  const request = (galleryRequest += 1);
  const cursor = cursors[cursors.length - 1];
  $('gallery-status').textContent = 'Loading your images…';
  $('gallery-error').hidden = true;
  let page;
  try {
    page = await api.listImages(pageSize, cursor);
  } catch (err) {
    if (request !== galleryRequest) return;
    $('gallery-status').textContent = '';
    $('gallery-error').textContent = err.message;
    $('gallery-error').hidden = false;
    if (err.code === 'INVALID_QUERY') cursors = [null];
    return;
  }
  if (request !== galleryRequest) return; // A newer load overtook this one.
  if (page.images.length === 0 && cursors.length > 1) {
    // The last image of a later page was deleted: show the page before it.
    cursors.pop();
    return loadGallery();
  }
  $('images').replaceChildren(...page.images.map(imageCard));
  $('gallery-status').textContent =
    page.images.length === 0 ? 'No images yet. Upload some above.' : '';
  $('page-number').textContent = cursors.length > 1 || page.nextCursor ? `Page ${cursors.length}` : '';
  $('newer').hidden = cursors.length === 1;
  $('older').hidden = !page.nextCursor;
  $('older').dataset.cursor = page.nextCursor ?? '';
  // The thumbnail and original links are short-lived: fetch fresh ones before they expire.
  const expiries = page.images.filter((i) => i.urlsExpireAt).map((i) => Date.parse(i.urlsExpireAt));
  const pending = page.images.some((i) => i.status === 'PENDING');
  let wait = expiries.length ? Math.min(...expiries) - Date.now() - 30_000 : Infinity;
  if (pending) wait = Math.min(wait, 5_000);
  if (Number.isFinite(wait)) galleryRefresh = setTimeout(loadGallery, Math.max(wait, 5_000));
}

function imageCard(image) {
  const li = document.createElement('li');
  li.className = 'image';
  li.dataset.imageId = image.imageId;
  li.dataset.status = image.status;
  let thumb;
  const thumbnailUrl = webUrl(image.thumbnailUrl);
  // The renditions with a usable URL, largest first, as the API lists them.
  const renditions = (Array.isArray(image.renditions) ? image.renditions : [])
    .map((r) => ({ ...r, url: webUrl(r.url) }))
    .filter((r) => r.url && Number.isInteger(r.width) && r.width > 0);
  if (image.status === 'READY' && thumbnailUrl) {
    thumb = document.createElement('img');
    thumb.src = thumbnailUrl;
    // One candidate a width (a small image's renditions all have its size): the browser picks the
    // smallest that fills the card at its pixel density.
    const candidates = renditions.filter((r, i) => renditions.findIndex((o) => o.width === r.width) === i);
    if (candidates.length > 0) {
      thumb.srcset = candidates.map((r) => `${r.url} ${r.width}w`).join(', ');
      thumb.sizes = '(max-width: 30rem) 45vw, 15rem';
    }
    thumb.alt = `Thumbnail of ${image.fileName}`;
    thumb.loading = 'lazy';
  } else {
    thumb = document.createElement('div');
    thumb.textContent = { READY: 'No thumbnail', PENDING: 'Being checked…' }[image.status] ?? 'Rejected';
  }
  thumb.classList.add('thumb');
  const name = document.createElement('p');
  name.className = 'name';
  name.textContent = image.fileName;
  const detail = document.createElement('p');
  detail.className = 'detail';
  if (image.status === 'READY') {
    detail.textContent = `${image.width} × ${image.height}, ${formatBytes(image.sizeBytes)}`;
  } else if (image.status === 'REJECTED') {
    detail.textContent = `Rejected: ${rejectionMessage(image.rejectionReason)}`;
    detail.classList.add('error');
  } else {
    detail.textContent = 'Uploading or being checked.';
  }
  const actions = document.createElement('div');
  actions.className = 'actions';
  const display = renditions.find((r) => r.name === 'display') ?? renditions[0];
  if (image.status === 'READY' && display) {
    const view = document.createElement('a');
    view.href = display.url;
    view.target = '_blank';
    view.rel = 'noopener';
    view.textContent = 'View';
    view.setAttribute('aria-label', `View ${image.fileName}`);
    actions.append(view);
  }
  const originalUrl = webUrl(image.url);
  if (originalUrl) {
    const open = document.createElement('a');
    open.href = originalUrl;
    // Saved under its own name where the link is same-origin (the local CDN path); a browser
    // opens it instead where it is not.
    open.download = image.fileName;
    open.target = '_blank';
    open.rel = 'noopener';
    open.textContent = 'Open original';
    open.setAttribute('aria-label', `Open the original of ${image.fileName}`);
    actions.append(open);
  }
  actions.append(button('Delete', `Delete ${image.fileName}`, () => confirmDelete(image), 'danger'));
  li.append(thumb, name, detail, actions);
  return li;
}

/** `url` if it is an http(s) URL, else null: a link from the API never becomes `javascript:`. */
function webUrl(url) {
  if (typeof url !== 'string' || !url) return null;
  try {
    const parsed = new URL(url, location.href);
    return parsed.protocol === 'https:' || parsed.protocol === 'http:' ? parsed.href : null;
  } catch {
    return null;
  }
}

function confirmDelete(image) {
  const dialog = $('confirm-delete');
  $('confirm-delete-name').textContent = image.fileName;
  dialog.returnValue = '';
  dialog.addEventListener(
    'close',
    async () => {
      if (dialog.returnValue !== 'delete') return;
      try {
        await api.deleteImage(image.imageId);
        announce(`${image.fileName} deleted.`);
      } catch (err) {
        $('gallery-error').textContent = err.message;
        $('gallery-error').hidden = false;
        return;
      }
      loadGallery();
    },
    { once: true },
  );
  dialog.showModal();
}
