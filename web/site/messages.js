// Plain-language words for every code the API and the processor can return, and the image types. The API's codes are
// in src/api/error.rs, the processor's rejection reasons in src/domain/processing.rs; a test
// (web/tests/messages.test.mjs) fails when one of them has no sentence here.

/** The file name extensions the API accepts for each type (src/domain/image_type.rs; a test in
 * web/tests/messages.test.mjs checks they agree). */
export const EXTENSIONS = {
  'image/jpeg': ['jpg', 'jpeg'],
  'image/png': ['png'],
  'image/gif': ['gif'],
  'image/webp': ['webp'],
  'image/heic': ['heic'],
  'image/heif': ['heif', 'hif'],
  'image/avif': ['avif'],
};

/** Each type's name, as people know it. */
export const TYPE_NAMES = {
  'image/jpeg': 'JPEG',
  'image/png': 'PNG',
  'image/gif': 'GIF',
  'image/webp': 'WebP',
  'image/heic': 'HEIC',
  'image/heif': 'HEIF',
  'image/avif': 'AVIF',
};

/** What went wrong, for each `error.code` of an API error body. */
export const API_ERRORS = {
  INVALID_FILE_NAME: 'The file name cannot be used: it is empty, longer than 255 bytes (spaces around it included), or contains control characters. Rename the file and try again.',
  UNSUPPORTED_FILE_TYPE: 'This kind of file is not accepted. Upload a JPEG, PNG, GIF, WebP, HEIC, HEIF or AVIF image.',
  EXTENSION_MISMATCH: 'The file name’s extension does not match its type (for example a JPEG named “.png”). Rename the file and try again.',
  INVALID_FILE_SIZE: 'The file’s size could not be used: it must be a whole number of bytes above zero.',
  FILE_SIZE_REQUIRED: 'The service needs to know the file’s size before upload. Reload the page and try again.',
  FILE_TOO_LARGE: 'The file is larger than the service accepts.',
  INVALID_REQUEST: 'The service did not understand the request. Reload the page and try again.',
  BODY_TOO_LARGE: 'The request was too large for the service. Reload the page and try again.',
  BODY_NOT_JSON: 'The service did not understand the request. Reload the page and try again.',
  QUOTA_EXCEEDED: 'You have stored as many images (or bytes) as one user may. Delete some images to upload more.',
  TOO_MANY_UPLOADS_IN_FLIGHT: 'You have as many uploads under way as one user may. Wait for some to finish and try again.',
  HOURLY_UPLOAD_LIMIT: 'You have started as many uploads this hour as one user may. Try again next hour.',
  UNAUTHORIZED: 'You are not signed in, or your session has ended. Please sign in again.',
  SERVICE_UNAVAILABLE: 'The service is busy or briefly unavailable. Wait a moment and try again.',
  INVALID_QUERY: 'The gallery could not be loaded from that position. Go back to the first page.',
  IMAGE_NOT_FOUND: 'That image no longer exists. It may have been deleted.',
  UPLOAD_NOT_FOUND: 'That upload no longer exists: it was discarded, or it expired. Upload the file again.',
  UPLOAD_NOT_ACTIVE: 'That upload was already finished or discarded. Upload the file again if it is not in the gallery.',
  UPLOAD_INCOMPLETE: 'Some parts of the file did not reach the storage. Retry to send them.',
  INVALID_PART_NUMBER: 'The page asked for a part the upload does not have. Reload the page and try again.',
  INVALID_PART_SIZE: 'The page asked for parts of a size the service does not accept. Reload the page and try again.',
  NOT_FOUND: 'The page asked the service for something that does not exist. Check the API address in config.json.',
  METHOD_NOT_ALLOWED: 'The service does not allow that action. Check the API address in config.json.',
  INTERNAL_ERROR: 'Something went wrong on the service’s side. Try again; if it keeps happening, tell the service’s operators.',
};

/**
 * What went wrong, for each code API Gateway puts in its own answers in a deployment
 * (openapi.yaml's `GatewayErrorCode`: the template's gateway responses report the response type).
 */
export const GATEWAY_ERRORS = {
  ACCESS_DENIED: 'The service refused access. Sign out, sign in again and retry.',
  API_CONFIGURATION_ERROR: 'The service is misconfigured. Tell the service’s operators.',
  AUTHORIZER_CONFIGURATION_ERROR: 'The service’s sign-in check is misconfigured. Tell the service’s operators.',
  AUTHORIZER_FAILURE: 'The service could not check your sign-in just now. Wait a moment and try again.',
  BAD_REQUEST_BODY: 'The service did not understand the request. Reload the page and try again.',
  BAD_REQUEST_PARAMETERS: 'The service did not understand the request. Reload the page and try again.',
  EXPIRED_TOKEN: 'Your session has ended. Please sign in again.',
  INTEGRATION_FAILURE: 'Something went wrong on the service’s side. Try again; if it keeps happening, tell the service’s operators.',
  INTEGRATION_TIMEOUT: 'The service took too long to answer. Try again in a moment.',
  INVALID_API_KEY: 'The service refused the request. Tell the service’s operators.',
  INVALID_SIGNATURE: 'The service refused the request’s credentials. Sign out, sign in again and retry.',
  MISSING_AUTHENTICATION_TOKEN: 'The page asked the service for something that does not exist. Check the API address in config.json.',
  QUOTA_EXCEEDED: 'The service’s request quota is used up. Try again later.',
  REQUEST_TOO_LARGE: 'The request was too large for the service. Reload the page and try again.',
  RESOURCE_NOT_FOUND: 'The page asked the service for something that does not exist. Check the API address in config.json.',
  THROTTLED: 'The service is receiving too many requests. Wait a moment and try again.',
  UNAUTHORIZED: 'You are not signed in, or your session has ended. Please sign in again.',
  UNSUPPORTED_MEDIA_TYPE: 'The service did not accept the request’s format. Reload the page and try again.',
  WAF_FILTERED: 'The service’s firewall blocked the request.',
};

/** Why the processor refused an upload, for each `rejectionReason`. */
export const REJECTION_REASONS = {
  TOO_LARGE: 'The uploaded file is larger than the service accepts.',
  SIZE_MISMATCH: 'The uploaded file’s size is not the size announced before the upload.',
  TYPE_MISMATCH: 'The file is not really an image of the type its name says.',
  UNDECODABLE: 'The file is damaged or not a readable image.',
  TOO_MANY_PIXELS: 'The image is too large in width or height.',
};

/** What Cognito's error types mean to someone signing in. */
export const SIGN_IN_ERRORS = {
  NotAuthorizedException: 'Wrong email or password.',
  UserNotFoundException: 'Wrong email or password.',
  UserNotConfirmedException: 'This account is not confirmed yet. Confirm it, then sign in.',
  PasswordResetRequiredException: 'This account needs a new password. Reset it, then sign in.',
  TooManyRequestsException: 'Too many attempts. Wait a minute and try again.',
  LimitExceededException: 'Too many attempts. Wait a minute and try again.',
  // Cognito says this both for a missing email or password and for an app client that does not
  // allow USER_PASSWORD_AUTH: the sentence covers both.
  InvalidParameterException:
    'Sign-in could not start. Check that both email and password are filled in; if they are, the sign-in service is not set up to accept passwords from this page (its app client must allow USER_PASSWORD_AUTH).',
};

/** A sentence for an API error code; unknown codes get a general sentence, never raw JSON. */
export function apiErrorMessage(code, status) {
  if (code && API_ERRORS[code]) return API_ERRORS[code];
  if (code && GATEWAY_ERRORS[code]) return GATEWAY_ERRORS[code];
  if (status >= 500) return API_ERRORS.INTERNAL_ERROR;
  return 'The service refused the request. Reload the page and try again.';
}

/** A sentence for a rejection reason code. */
export function rejectionMessage(code) {
  return REJECTION_REASONS[code] ?? 'The file was not accepted as an image.';
}

/** A size in bytes as people read it ("2.5 MB"). */
export function formatBytes(bytes) {
  if (bytes < 1024) return `${bytes} bytes`;
  const units = ['KB', 'MB', 'GB'];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${value >= 10 ? Math.round(value) : value.toFixed(1)} ${units[unit]}`;
}
