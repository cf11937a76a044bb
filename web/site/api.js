// The API's calls, with its error bodies turned into sentences (messages.js), and the PUT of a
// file to its presigned URL with progress (XMLHttpRequest: fetch reports no upload progress).

import { apiErrorMessage } from './messages.js';

/** A failed API call: `message` is for people; `code` and `status` are for the page's logic. */
export class ApiFailure extends Error {
  constructor(message, { code = null, status = 0, requestId = null, retryAfter = null } = {}) {
    super(message);
    this.code = code;
    this.status = status;
    this.requestId = requestId;
    /** Seconds the API said to wait before asking again (its own 429s), else null. */
    this.retryAfter = retryAfter;
  }
}

export class Api {
  /** `baseUrl`: config.json's apiUrl ('' for this page's own origin); `session`: null when anonymous. */
  constructor(baseUrl, session, { onUnauthorized } = {}) {
    this.baseUrl = baseUrl.replace(/\/+$/, '');
    this.session = session;
    this.onUnauthorized = onUnauthorized ?? (() => {});
  }

  /** POST /upload: an upload URL, the headers to PUT with, and the new image's id. */
  createUpload(file, fileType) {
    return this.call('POST', '/upload', { fileName: file.name, fileType, fileSize: file.size });
  }

  /** POST /upload/multipart: a multipart upload's image id, upload id, part size and count. */
  startMultipart(file, fileType) {
    return this.call('POST', '/upload/multipart', { fileName: file.name, fileType, fileSize: file.size });
  }

  /** GET /upload/multipart/{id}: the upload, and the parts the storage holds. */
  listParts(imageId) {
    return this.call('GET', `/upload/multipart/${encodeURIComponent(imageId)}`);
  }

  /** POST /upload/multipart/{id}/parts/{n}: part n's upload URL, signed for its exact length. */
  signPart(imageId, partNumber) {
    return this.call('POST', `/upload/multipart/${encodeURIComponent(imageId)}/parts/${partNumber}`);
  }

  /** POST /upload/multipart/{id}/complete: the parts become the image, once they are all there. */
  completeMultipart(imageId) {
    return this.call('POST', `/upload/multipart/${encodeURIComponent(imageId)}/complete`);
  }

  /** GET /images: one page of the caller's images, newest first. */
  listImages(limit, cursor) {
    const query = new URLSearchParams({ limit: String(limit) });
    if (cursor) query.set('cursor', cursor);
    return this.call('GET', `/images?${query}`);
  }

  /** GET /images/{id}. */
  getImage(imageId) {
    return this.call('GET', `/images/${encodeURIComponent(imageId)}`);
  }

  /** DELETE /images/{id}; succeeds for an image that is already gone. */
  deleteImage(imageId) {
    return this.call('DELETE', `/images/${encodeURIComponent(imageId)}`);
  }

  async call(method, path, body) {
    const headers = {};
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    if (this.session) {
      let token;
      try {
        token = await this.session.idToken();
      } catch (err) {
        throw new ApiFailure(err.message);
      }
      if (!token) throw new ApiFailure('Please sign in first.', { code: 'UNAUTHORIZED', status: 401 });
      headers.Authorization = `Bearer ${token}`;
    }
    let response;
    try {
      response = await fetch(this.baseUrl + path, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch {
      // `reason`, as a failed PUT has it: no answer came, so trying again may help.
      throw Object.assign(new ApiFailure('The service cannot be reached. Check your connection and try again.'), {
        reason: 'network',
      });
    }
    if (response.status === 204) return null;
    const text = await response.text();
    let json = null;
    try {
      json = text ? JSON.parse(text) : null;
    } catch {
      // Not JSON (a proxy's error page, say): reported by status below, never shown raw.
    }
    if (response.ok && json !== null) return json;
    const error = json?.error ?? {};
    const wait = Number.parseInt(response.headers.get('retry-after') ?? '', 10);
    const failure = new ApiFailure(apiErrorMessage(error.code, response.status), {
      code: error.code ?? null,
      status: response.status,
      requestId: error.requestId ?? response.headers.get('x-request-id'),
      retryAfter: Number.isSafeInteger(wait) && wait > 0 ? wait : null,
    });
    if (response.status === 401) this.onUnauthorized(failure);
    throw failure;
  }
}

/**
 * PUTs `file` (or a part of one: a Blob) to a presigned URL with exactly the `headers` the API
 * returned (If-None-Match included: the signature covers them). `onProgress(fraction)` follows the upload. Returns
 * `{ promise, abort }`; the promise resolves on a 2xx and rejects with an Error whose `reason` is
 * `aborted`, `network`, `expired` (403), `used` (412) or `status`, and whose `status` is the HTTP
 * status (0 when there was no answer).
 */
export function putFile(upload, file, onProgress) {
  const xhr = new XMLHttpRequest();
  const promise = new Promise((resolve, reject) => {
    const fail = (reason, message) => {
      const err = new Error(message);
      err.reason = reason;
      err.status = xhr.status;
      reject(err);
    };
    xhr.open(upload.method ?? 'PUT', upload.uploadUrl);
    for (const [name, value] of Object.entries(upload.headers ?? {})) {
      xhr.setRequestHeader(name, value);
    }
    xhr.upload.addEventListener('progress', (event) => {
      if (event.lengthComputable && event.total > 0) onProgress(event.loaded / event.total);
    });
    xhr.addEventListener('load', () => {
      if (xhr.status >= 200 && xhr.status < 300) {
        onProgress(1);
        resolve();
      } else if (xhr.status === 403) {
        fail('expired', 'The storage refused the upload link; it may have expired. Retry to get a new one.');
      } else if (xhr.status === 412) {
        fail('used', 'This upload link was already used. Retry to get a new one.');
      } else {
        fail('status', `The storage refused the upload (status ${xhr.status}). Retry to try again.`);
      }
    });
    xhr.addEventListener('error', () =>
      fail('network', 'The upload was interrupted: the storage could not be reached. Retry to try again.'),
    );
    xhr.addEventListener('abort', () => fail('aborted', 'Upload cancelled.'));
    xhr.send(file);
  });
  return { promise, abort: () => xhr.abort() };
}
