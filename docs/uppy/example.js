// Uppy 6's Dashboard and AWS S3 plugin, uploading through the image-upload API with the
// signRequest adapter in adapter.js: one presigned PUT for a small file, a multipart upload (5 MiB
// parts, resumable) for a larger one. After the upload, the service verifies the image;
// GET /images/{imageId} says READY or REJECTED. `npm run build` bundles this file to dist/.

import AwsS3 from '@uppy/aws-s3';
import Uppy from '@uppy/core';
import Dashboard from '@uppy/dashboard';

import { imageUploadS3 } from './adapter.js';

const api = () => document.getElementById('api').value.trim().replace(/\/+$/, '');
const token = () => document.getElementById('token').value.trim();

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

async function getImage(imageId) {
  const response = await fetch(`${api()}/images/${imageId}`, {
    headers: token() ? { Authorization: `Bearer ${token()}` } : {},
  });
  return response.ok ? response.json() : null;
}

const uppy = new Uppy({
  // The API's default ALLOWED_FILE_TYPES. The API checks again, and refuses a file over its
  // MAX_UPLOAD_BYTES with a sentence Uppy shows.
  restrictions: {
    allowedFileTypes: ['image/jpeg', 'image/png', 'image/gif', 'image/webp', 'image/heic', 'image/heif', 'image/avif'],
  },
});
uppy
  .use(Dashboard, { inline: true, target: '#dashboard', height: 360 })
  .use(AwsS3, imageUploadS3({ apiUrl: api, getToken: token, uppy, fileType }));
// For the console (and the browser test).
window.uppy = uppy;

// The bytes are in the bucket; now wait for the service's verdict.
uppy.on('upload-success', async (file) => {
  const { imageId } = uppy.getFile(file.id).meta;
  const item = document.createElement('li');
  item.dataset.imageId = imageId;
  item.textContent = `${file.name}: being checked…`;
  document.getElementById('results').append(item);
  for (let attempt = 0; attempt < 60; attempt += 1) {
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const image = await getImage(imageId).catch(() => null);
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
