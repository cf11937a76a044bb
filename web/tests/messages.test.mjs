// Every code the API and the processor can send has a sentence on the page: the codes are read
// from the Rust sources, so a new one without words fails here (no browser or stack needed).

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';

import { API_ERRORS, REJECTION_REASONS, apiErrorMessage, rejectionMessage } from '../site/messages.js';

const source = (path) => readFileSync(new URL(`../../${path}`, import.meta.url), 'utf8');

test('every API error code has a sentence', () => {
  // `(StatusCode::..., "CODE")` pairs of ApiError::status_and_code.
  const codes = [...source('src/api/error.rs').matchAll(/StatusCode::[A-Z_]+,\s*"([A-Z_]+)"/g)].map((m) => m[1]);
  assert.ok(codes.length >= 10, `found the codes in src/api/error.rs (${codes})`);
  for (const code of codes) assert.ok(API_ERRORS[code], `no sentence for API error ${code}`);
  assert.deepEqual(Object.keys(API_ERRORS).sort(), [...new Set(codes)].sort(), 'no sentence for a code that does not exist');
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
