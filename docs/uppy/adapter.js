// Uppy 6's AWS S3 plugin (@uppy/aws-s3 6.3, which sends the headers signRequest returns) against
// the image-upload API. The API decides the object key and signs each PUT; for multipart uploads
// it answers S3's own XML documents (Accept: application/xml), so Uppy's S3 client sends Create,
// ListParts and Complete to the API, and only the PUTs of the bytes to S3.
//
//   uppy.use(AwsS3, imageUploadS3({ apiUrl, getToken, uppy, fileType }))

/** The part size: the API's default and S3's smallest. */
const PART_SIZE = 5 * 1024 * 1024;

export function imageUploadS3({ apiUrl, getToken = () => '', uppy, fileType = (file) => file.type }) {
  const api = () => (typeof apiUrl === 'function' ? apiUrl() : apiUrl).replace(/\/+$/, '');
  const auth = async () => {
    const token = await getToken();
    return token ? { Authorization: `Bearer ${token}` } : {};
  };
  const asS3 = async () => ({ ...(await auth()), Accept: 'application/xml' });

  async function post(path, body) {
    const response = await fetch(api() + path, {
      method: 'POST',
      headers: { ...(body ? { 'Content-Type': 'application/json' } : {}), ...(await auth()) },
      body: body && JSON.stringify(body),
    });
    const json = await response.json().catch(() => null);
    if (!response.ok) throw new Error(json?.error?.message ?? `POST ${path} answered ${response.status}`);
    return json;
  }

  /** `uploads/{imageId}.{ext}` -> imageId. */
  function imageIdOf(key) {
    const match = /^uploads\/([0-9a-f-]+)\.[a-z]+$/.exec(key);
    if (!match) throw new Error(`not a key of this API: ${key}`);
    return match[1];
  }
  // The API refuses an uploadId or key that is not the upload's own.
  const path = (key, uploadId, tail = '') =>
    `/upload/multipart/${imageIdOf(key)}${tail}?${new URLSearchParams({ uploadId, key })}`;

  async function signRequest({ method, key, uploadId, partNumber }) {
    if (!uploadId) {
      // PutObject or CreateMultipartUpload: `key` is still the file's id (generateObjectKey).
      const file = uppy.getFile(key);
      const body = { fileName: file.name, fileType: fileType(file), fileSize: file.size };
      if (method === 'PUT') {
        const upload = await post('/upload', body);
        uppy.setFileMeta(file.id, { imageId: upload.imageId });
        return { url: upload.uploadUrl, headers: upload.headers, key: upload.key };
      }
      // The API starts the upload; Uppy's POST to it then reads the upload id as S3 gives it.
      const upload = await post('/upload/multipart', { ...body, partSize: PART_SIZE });
      uppy.setFileMeta(file.id, { imageId: upload.imageId });
      return { url: api() + path(upload.key, upload.uploadId), key: upload.key, headers: await asS3() };
    }
    switch (method) {
      case 'PUT': {
        // A part: its URL signs its number and its exact length.
        const part = await post(path(key, uploadId, `/parts/${partNumber}`));
        return { url: part.uploadUrl, headers: part.headers };
      }
      case 'GET': // ListParts
        return { url: api() + path(key, uploadId), headers: await asS3() };
      case 'POST': // CompleteMultipartUpload: the API checks the parts and completes it once.
        return { url: api() + path(key, uploadId, '/complete'), headers: await asS3() };
      case 'DELETE': // AbortMultipartUpload: deleting the image aborts its upload.
        return { url: `${api()}/images/${imageIdOf(key)}`, headers: await auth() };
      default:
        throw new Error(`no mapping for ${method} ${key}`);
    }
  }

  return {
    signRequest,
    shouldUseMultipart: (file) => file.size > PART_SIZE,
    getChunkSize: () => PART_SIZE,
    // The file's id until the API names the object: signRequest finds the file by it.
    generateObjectKey: (file) => file.id,
  };
}
