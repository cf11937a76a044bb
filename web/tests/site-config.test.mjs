// config.json for a deployment, from describe-stacks output (no AWS needed).

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';

import { siteConfig, siteOrigins, withOrigins } from '../tools/site-config.mjs';

const stack = (outputs, parameters = []) => ({
  Stacks: [
    {
      StackName: 'image-upload',
      Outputs: Object.entries(outputs).map(([OutputKey, OutputValue]) => ({ OutputKey, OutputValue })),
      Parameters: parameters.map(([ParameterKey, ParameterValue]) => ({ ParameterKey, ParameterValue })),
    },
  ],
});

const OUTPUTS = {
  ApiUrl: 'https://abc123.execute-api.eu-west-1.amazonaws.com/prod/',
  UserPoolClientId: '1example23456789abcdefghij',
  UserPoolId: 'eu-west-1_AbC',
  Region: 'eu-west-1',
  BucketName: 'image-upload-123456789012-eu-west-1-abc',
};

test('a deployment’s outputs and upload limit become the page’s config', () => {
  assert.deepEqual(siteConfig(stack(OUTPUTS, [['MaxUploadBytes', '5000000'], ['StageName', 'prod']])), {
    apiUrl: 'https://abc123.execute-api.eu-west-1.amazonaws.com/prod',
    auth: {
      region: 'eu-west-1',
      userPoolClientId: '1example23456789abcdefghij',
      cognitoEndpoint: 'https://cognito-idp.eu-west-1.amazonaws.com/',
    },
    limits: { maxUploadBytes: 5000000, allowedTypes: ['image/jpeg', 'image/png', 'image/gif', 'image/webp', 'image/heic', 'image/heif', 'image/avif'] },
  });
});

test('the example config in web/site has the same shape', () => {
  const example = JSON.parse(readFileSync(new URL('../site/config.example.json', import.meta.url), 'utf8'));
  assert.deepEqual(example, siteConfig(stack({ ...OUTPUTS, ApiUrl: example.apiUrl, UserPoolClientId: example.auth.userPoolClientId })));
});

test('a missing output or a bad limit is named', () => {
  const { UserPoolClientId, ...without } = OUTPUTS;
  assert.throws(() => siteConfig(stack(without)), /no UserPoolClientId output/);
  assert.throws(() => siteConfig(stack(OUTPUTS, [['MaxUploadBytes', 'lots']])), /MaxUploadBytes/);
  assert.throws(() => siteConfig({ Stacks: [] }), /one stack/);
});

test('the deployed page may reach the API, Cognito, the bucket and the CDN, and no other host', () => {
  const html = readFileSync(new URL('../site/index.html', import.meta.url), 'utf8');
  const bucket = 'https://image-upload-123456789012-eu-west-1-abc.s3.eu-west-1.amazonaws.com';
  const origins = siteOrigins(stack({ ...OUTPUTS, CdnUrl: 'https://images.example.com' }));
  assert.deepEqual(origins, {
    connect: ['https://abc123.execute-api.eu-west-1.amazonaws.com', 'https://cognito-idp.eu-west-1.amazonaws.com', bucket],
    images: [bucket, 'https://images.example.com'],
  });
  const page = withOrigins(html, origins);
  const policy = page.match(/<meta http-equiv="Content-Security-Policy" content="([^"]*)"/)[1];
  assert.equal(
    policy,
    "default-src 'self'; script-src 'self'; style-src 'self'; " +
      `img-src 'self' blob: data: ${bucket} https://images.example.com; ` +
      `connect-src 'self' https://abc123.execute-api.eu-west-1.amazonaws.com https://cognito-idp.eu-west-1.amazonaws.com ${bucket}; ` +
      "object-src 'none'; base-uri 'none'; form-action 'self'",
  );
  assert.equal(page.replace(policy, ''), html.replace(/(<meta http-equiv="Content-Security-Policy" content=")[^"]*/, '$1'), 'only the policy changes');
  // Without a CDN, images come from the bucket alone.
  assert.deepEqual(siteOrigins(stack(OUTPUTS)).images, [bucket]);
  const { BucketName, ...without } = OUTPUTS;
  assert.throws(() => siteOrigins(stack(without)), /no BucketName output/);
});

