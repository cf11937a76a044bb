#!/usr/bin/env node
// The page's config.json for a deployed stack, from `aws cloudformation describe-stacks --output
// json` on stdin: the API URL and the Cognito app client from the stack's outputs, the upload
// limit from its MaxUploadBytes parameter (`just web-site DIR` runs it). The API stays the
// authority; these values only let the page refuse early what the API would refuse.
// With `--index FILE`, it prints FILE (web/site/index.html) with the Content Security Policy of
// its <meta> widened to the stack's origins: the API and Cognito (connect-src), the bucket
// (connect-src for uploads, img-src) and the CDN (img-src), and no other host.

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

/** The origins the deployed page uses, from the stack's outputs: `{ connect, images }`. */
export function siteOrigins(describeStacks) {
  const config = siteConfig(describeStacks);
  const outputs = describeStacks.Stacks[0].Outputs ?? [];
  const output = (key) => outputs.find((o) => o.OutputKey === key)?.OutputValue;
  const bucket = output('BucketName');
  if (!bucket) throw new Error('the stack has no BucketName output: is it this project\'s template, fully deployed?');
  // Presigned URLs name the bucket's regional virtual host (the SDK's default).
  const storage = originOf(`https://${bucket}.s3.${config.auth.region}.amazonaws.com`);
  const cdn = output('CdnUrl') ? originOf(output('CdnUrl')) : null;
  const unique = (list) => [...new Set(list.filter(Boolean))];
  return {
    connect: unique([originOf(config.apiUrl), originOf(config.auth.cognitoEndpoint), storage]),
    images: unique([storage, cdn]),
  };
}

/** `scheme://host[:port]` of an http(s) URL, lower-cased; throws for anything else. */
function originOf(url) {
  const { protocol, host } = new URL(url);
  if (!['http:', 'https:'].includes(protocol) || !/^[a-z0-9.\-:[\]]+$/.test(host)) {
    throw new Error(`not an http(s) origin: ${url}`);
  }
  return `${protocol}//${host}`;
}

const CSP_META = '<meta http-equiv="Content-Security-Policy" content="';

/** `html` (web/site/index.html) with its <meta> policy's connect-src and img-src widened. */
export function withOrigins(html, { connect, images }) {
  const start = html.indexOf(CSP_META);
  if (start < 0) throw new Error('index.html has no Content-Security-Policy <meta>');
  const from = start + CSP_META.length;
  const to = html.indexOf('"', from);
  const policy = html
    .slice(from, to)
    .split(';')
    .map((d) => d.trim())
    .filter(Boolean)
    .map((d) => {
      const name = d.split(' ')[0];
      const extra = name === 'connect-src' ? connect : name === 'img-src' ? images : [];
      return [d, ...extra].join(' ');
    })
    .join('; ');
  return html.slice(0, from) + policy + html.slice(to);
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  try {
    const stacks = JSON.parse(readFileSync(0, 'utf8'));
    if (process.argv[2] === '--index') {
      process.stdout.write(withOrigins(readFileSync(process.argv[3], 'utf8'), siteOrigins(stacks)));
      process.exit(0);
    }
    const config = siteConfig(stacks);
    process.stdout.write(`${JSON.stringify(config, null, 2)}\n`);
  } catch (err) {
    process.stderr.write(`site-config: ${err.message}\n`);
    process.exit(1);
  }
}
