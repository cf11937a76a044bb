// Uppy's Dashboard and its AWS S3 plugin, uploading through the image-upload API: the plugin's
// getUploadParameters asks POST /upload for a presigned PUT, and Uppy PUTs the file to S3 with
// the headers the API returned (If-None-Match and Content-Type are signed into the URL). After
// the upload, the service verifies the image; GET /images/{imageId} says READY or REJECTED.

import { AwsS3, Dashboard, Uppy } from './node_modules/uppy/dist/uppy.min.mjs';

const api = () => document.getElementById('api').value.trim().replace(/\/+$/, '');

/** The API's headers: JSON, and the bearer ID token when one is given. */
function headers() {
  const token = document.getElementById('token').value.trim();
  return {
    'Content-Type': 'application/json',
    ...(token ? { Authorization: `Bearer ${token}` } : {}),
  };
}

/** The API's types by file name extension, for files the browser gave no type (file.type ''). */
const TYPES_BY_EXTENSION = {
  jpg: 'image/jpeg',
  jpeg: 'image/jpeg',
  png: 'image/png',
  gif: 'image/gif',
  webp: 'image/webp',
  heic: 'image/heic',
  heif: 'image/heif',
  hif: 'image/heif',
  avif: 'image/avif',
};

/** The two names systems give an HEVC photo interchangeably; the API takes either, by extension. */
const HEIF_TYPES = ['image/heic', 'image/heif'];

/** The type to declare for `file`: the browser's, else its extension's; throws when neither. */
function fileType(file) {
  const extension = file.name.includes('.') ? file.name.split('.').pop().toLowerCase() : '';
  const type = TYPES_BY_EXTENSION[extension];
  if (HEIF_TYPES.includes(file.type) && HEIF_TYPES.includes(type)) return type;
  if (file.type) return file.type;
  if (!type) {
    throw new Error(
      `${file.name}: the type of this file is unknown; name it .jpg, .jpeg, .png, .gif, .webp, .heic, .heif, .hif or .avif`,
    );
  }
  return type;
}

async function callApi(method, path, body) {
  const response = await fetch(api() + path, {
    method,
    headers: headers(),
    body: body && JSON.stringify(body),
  });
  const json = await response.json().catch(() => null);
  if (!response.ok) throw new Error(json?.error?.message ?? `${method} ${path} answered ${response.status}`);
  return json;
}

const uppy = new Uppy({
  // The API's defaults (ALLOWED_FILE_TYPES, MAX_UPLOAD_BYTES); the API checks again.
  restrictions: {
    allowedFileTypes: ['image/jpeg', 'image/png', 'image/gif', 'image/webp', 'image/heic', 'image/heif', 'image/avif'],
    maxFileSize: 10 * 1024 * 1024,
  },
})
  .use(Dashboard, { inline: true, target: '#dashboard', height: 360 })
  .use(AwsS3, {
    // One PUT per file: POST /upload presigns single PUTs, not multipart uploads.
    shouldUseMultipart: false,
    async getUploadParameters(file) {
      const upload = await callApi('POST', '/upload', {
        fileName: file.name,
        // Some browsers and drag sources give no type: POST /upload needs one (it is signed into
        // the URL and the PUT must send the same), so the extension decides, or the file is refused.
        fileType: fileType(file),
        fileSize: file.size,
      });
      uppy.setFileMeta(file.id, { imageId: upload.imageId });
      // upload.headers carries that same Content-Type, so the PUT matches the signature.
      return { method: upload.method, url: upload.uploadUrl, headers: upload.headers };
    },
  });

// The bytes are in the bucket; now wait for the service's verdict.
uppy.on('upload-success', async (file) => {
  const { imageId } = uppy.getFile(file.id).meta;
  const item = document.createElement('li');
  item.dataset.imageId = imageId;
  item.textContent = `${file.name}: being checked…`;
  document.getElementById('results').append(item);
  for (let attempt = 0; attempt < 60; attempt += 1) {
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const image = await callApi('GET', `/images/${imageId}`).catch(() => null);
    if (image?.status === 'READY' || image?.status === 'REJECTED') {
      item.dataset.status = image.status;
      item.textContent =
        image.status === 'READY'
          ? `${file.name}: ready, ${image.width} × ${image.height}`
          : `${file.name}: rejected (${image.rejectionReason})`;
      return;
    }
  }
  item.textContent = `${file.name}: still being checked`;
});
