#!/usr/bin/env node
// The page's config.json for a deployed stack, from `aws cloudformation describe-stacks --output
// json` on stdin: the API URL and the Cognito app client from the stack's outputs, the upload
// limit from its MaxUploadBytes parameter (`just web-site DIR` runs it). The API stays the
// authority; these values only let the page refuse early what the API would refuse.

import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';

/** Every type the service can verify; the template does not narrow ALLOWED_FILE_TYPES. */
export const ALL_TYPES = ['image/jpeg', 'image/png', 'image/gif', 'image/webp', 'image/heic', 'image/heif', 'image/avif'];

/** config.json's object for the one stack in `describeStacks`; throws naming what is missing. */
export function siteConfig(describeStacks) {
  const stacks = describeStacks?.Stacks ?? [];
  if (stacks.length !== 1) throw new Error(`expected one stack, got ${stacks.length}`);
  const [stack] = stacks;
  const output = (key) => {
    const value = (stack.Outputs ?? []).find((o) => o.OutputKey === key)?.OutputValue;
    if (!value) throw new Error(`the stack has no ${key} output: is it this project's template, fully deployed?`);
    return value;
  };
  const parameter = (key) => (stack.Parameters ?? []).find((p) => p.ParameterKey === key)?.ParameterValue;
  const region = output('Region');
  const maxUploadBytes = Number(parameter('MaxUploadBytes') ?? 10 * 1024 * 1024);
  if (!Number.isSafeInteger(maxUploadBytes) || maxUploadBytes < 1) {
    throw new Error(`MaxUploadBytes is not a positive whole number: ${parameter('MaxUploadBytes')}`);
  }
  return {
    apiUrl: output('ApiUrl').replace(/\/+$/, ''),
    auth: {
      region,
      userPoolClientId: output('UserPoolClientId'),
      cognitoEndpoint: `https://cognito-idp.${region}.amazonaws.com/`,
    },
    limits: { maxUploadBytes, allowedTypes: ALL_TYPES },
  };
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  try {
    const config = siteConfig(JSON.parse(readFileSync(0, 'utf8')));
    process.stdout.write(`${JSON.stringify(config, null, 2)}\n`);
  } catch (err) {
    process.stderr.write(`site-config: ${err.message}\n`);
    process.exit(1);
  }
}
