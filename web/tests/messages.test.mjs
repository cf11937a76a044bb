// Every code the API and the processor can send has a sentence on the page: the codes are read
// from the Rust sources, so a new one without words fails here (no browser or stack needed).

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';

import { ALL_TYPES } from '../tools/site-config.mjs';
import { API_ERRORS, EXTENSIONS, GATEWAY_ERRORS, REJECTION_REASONS, TYPE_NAMES, apiErrorMessage, rejectionMessage } from '../site/messages.js';

const source = (path) => readFileSync(new URL(`../../${path}`, import.meta.url), 'utf8');

test('every API error code has a sentence', () => {
  // `(StatusCode::..., "CODE")` pairs of ApiError::status_and_code.
  const codes = [...source('src/api/error.rs').matchAll(/StatusCode::[A-Z_]+,\s*"([A-Z_]+)"/g)].map((m) => m[1]);
  assert.ok(codes.length >= 10, `found the codes in src/api/error.rs (${codes})`);
  for (const code of codes) assert.ok(API_ERRORS[code], `no sentence for API error ${code}`);
  assert.deepEqual(Object.keys(API_ERRORS).sort(), [...new Set(codes)].sort(), 'no sentence for a code that does not exist');
});

test('every code API Gateway can answer with (openapi.yaml) has a sentence', () => {
  // The `enum:` list of components.schemas.GatewayErrorCode, which tests/api/openapi.rs ties
  // to template.yaml's gateway responses.
  const block = source('openapi.yaml').match(/\n {4}GatewayErrorCode:\n[\s\S]*?\n {6}enum:\n((?: {8}- [A-Z_]+\n)+)/);
  assert.ok(block, 'found GatewayErrorCode in openapi.yaml');
  const codes = [...block[1].matchAll(/- ([A-Z_]+)/g)].map((m) => m[1]);
  assert.ok(codes.length >= 10, `found the gateway codes (${codes})`);
  assert.deepEqual(Object.keys(GATEWAY_ERRORS).sort(), codes.sort());
  for (const code of codes) assert.equal(apiErrorMessage(code, 400), API_ERRORS[code] ?? GATEWAY_ERRORS[code]);
});

test('every rejection reason has a sentence', () => {
  const code = source('src/domain/processing.rs').match(/pub fn code\(self\)[\s\S]*?\n {4}\}/)[0];
  const reasons = [...code.matchAll(/=> "([A-Z_]+)"/g)].map((m) => m[1]);
  assert.equal(reasons.length, 5, `found the reasons in src/domain/processing.rs (${reasons})`);
  assert.deepEqual(Object.keys(REJECTION_REASONS).sort(), reasons.sort());
});

test('unknown codes still get words, never JSON', () => {
  assert.match(apiErrorMessage(undefined, 502), /went wrong/);
  assert.match(apiErrorMessage('SOMETHING_NEW', 400), /refused/);
  assert.match(rejectionMessage('SOMETHING_NEW'), /not accepted/);
});

test('the page knows exactly the image types and extensions of src/domain/image_type.rs', () => {
  const rust = source('src/domain/image_type.rs');
  const body = (name) => rust.match(new RegExp(`pub fn ${name}\\(self[^)]*\\)[\\s\\S]*?\\n {4}\\}`))[0];
  // `Self::Jpeg => "image/jpeg"` arms of mime() and extension().
  const arms = (text) => Object.fromEntries([...text.matchAll(/Self::(\w+) => "([^"]+)"/g)].map((m) => [m[1], m[2]]));
  const mimes = arms(body('mime'));
  const extension = arms(body('extension'));
  assert.equal(Object.keys(mimes).length, 7, `found the types in image_type.rs (${Object.keys(mimes)})`);
  // accepts_extension(): `Self::Jpeg => matches!(ext, "jpg" | "jpeg")` arms, else extension() alone.
  const extra = Object.fromEntries(
    [...body('accepts_extension').matchAll(/Self::(\w+) => matches!\(ext, ([^)]*)\)/g)].map((m) => [
      m[1],
      [...m[2].matchAll(/"([^"]+)"/g)].map((e) => e[1]),
    ]),
  );
  const expected = Object.fromEntries(
    Object.entries(mimes).map(([variant, mime]) => [mime, (extra[variant] ?? [extension[variant]]).sort()]),
  );
  const page = Object.fromEntries(Object.entries(EXTENSIONS).map(([mime, list]) => [mime, [...list].sort()]));
  assert.deepEqual(page, expected, 'web/site/messages.js EXTENSIONS');
  assert.deepEqual(Object.keys(TYPE_NAMES).sort(), Object.keys(expected).sort(), 'TYPE_NAMES');
  // A deployment's config.json allows every type (the template leaves ALLOWED_FILE_TYPES alone).
  assert.deepEqual([...ALL_TYPES].sort(), Object.keys(expected).sort(), 'web/tools/site-config.mjs ALL_TYPES');
});
