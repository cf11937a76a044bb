// The original design's API function, reduced to the two routes the cold-start bench calls:
// POST /upload (a PENDING row in DynamoDB and a presigned S3 PUT) and GET /images (the caller's
// latest rows from the owner index). The same calls as ours, and rows in our layout
// (src/aws/dynamodb.rs), so that the bench compares runtimes and SDKs, not features. Clients are
// built at module scope, as the original did, so their cost is in the init phase.
'use strict';

const { randomUUID } = require('node:crypto');
const { S3Client, PutObjectCommand } = require('@aws-sdk/client-s3');
const { getSignedUrl } = require('@aws-sdk/s3-request-presigner');
const { DynamoDBClient, PutItemCommand, QueryCommand } = require('@aws-sdk/client-dynamodb');

// A local stack needs path-style S3 URLs (as src/aws/mod.rs does for an endpoint override).
const s3 = new S3Client({ forcePathStyle: Boolean(process.env.AWS_ENDPOINT_URL_S3) });
const dynamodb = new DynamoDBClient({});
const bucket = process.env.BUCKET_NAME;
const table = process.env.TABLE_NAME;
const types = { 'image/jpeg': 'jpg', 'image/png': 'png', 'image/gif': 'gif', 'image/webp': 'webp' };
const MAX_BYTES = 10 * 1024 * 1024;

const reply = (statusCode, body) => ({
  statusCode,
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify(body),
});

async function createUpload(owner, body) {
  let request;
  try {
    request = JSON.parse(body || '');
  } catch {
    return reply(400, { error: 'invalid JSON' });
  }
  const ext = types[request.fileType];
  if (!ext || typeof request.fileName !== 'string' || !(request.fileSize > 0 && request.fileSize <= MAX_BYTES)) {
    return reply(400, { error: 'invalid upload request' });
  }
  const imageId = randomUUID();
  const key = `uploads/${imageId}.${ext}`;
  const now = new Date();
  await dynamodb.send(new PutItemCommand({
    TableName: table,
    Item: {
      imageId: { S: imageId },
      fileName: { S: request.fileName },
      fileType: { S: request.fileType },
      objectKey: { S: key },
      bucket: { S: bucket },
      owner: { S: owner },
      status: { S: 'PENDING' },
      createdAt: { S: now.toISOString() },
      fileSize: { N: String(request.fileSize) },
      pendingExpiry: { N: String(Math.floor(now.getTime() / 1000) + 86400) },
    },
    ConditionExpression: 'attribute_not_exists(imageId)',
  }));
  const uploadUrl = await getSignedUrl(
    s3,
    new PutObjectCommand({ Bucket: bucket, Key: key, ContentType: request.fileType, ContentLength: request.fileSize }),
    { expiresIn: 300 },
  );
  return reply(200, { imageId, uploadUrl, key });
}

async function listImages(owner, query) {
  const limit = Math.min(Math.max(Number(query?.limit) || 20, 1), 100);
  const page = await dynamodb.send(new QueryCommand({
    TableName: table,
    IndexName: 'byOwner',
    KeyConditionExpression: '#o = :o',
    ExpressionAttributeNames: { '#o': 'owner' },
    ExpressionAttributeValues: { ':o': { S: owner } },
    ScanIndexForward: false,
    Limit: limit,
  }));
  const images = (page.Items || []).map((item) => ({
    imageId: item.imageId.S,
    status: item.status?.S,
    fileName: item.fileName?.S,
    createdAt: item.createdAt.S,
  }));
  return reply(200, { images });
}

exports.handler = async (event) => {
  const owner = event.requestContext?.authorizer?.claims?.sub;
  if (!owner) return reply(401, { error: 'unauthorized' });
  if (event.httpMethod === 'POST' && event.resource === '/upload') return createUpload(owner, event.body);
  if (event.httpMethod === 'GET' && event.resource === '/images') return listImages(owner, event.queryStringParameters);
  return reply(404, { error: 'not found' });
};
