// Large test images made on the spot: a PNG of noise does not compress, so its size is what was
// asked for, and the processor verifies it as any photo.

import { crc32, deflateSync } from 'node:zlib';

/** An RGB PNG of noise, square, of a little more than `bytes` bytes. */
export function noisyPng(bytes) {
  const side = Math.ceil(Math.sqrt(bytes / 3));
  const row = 1 + side * 3; // a filter byte (0: none), then the pixels
  const raw = Buffer.alloc(row * side);
  let state = 0x2545f491;
  for (let i = 0; i < raw.length; i += 1) {
    if (i % row === 0) continue;
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    raw[i] = (state >>> 24) & 0xff;
  }
  const chunk = (type, data) => {
    const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
    const framed = Buffer.alloc(body.length + 8);
    framed.writeUInt32BE(data.length, 0);
    body.copy(framed, 4);
    framed.writeUInt32BE(crc32(body), body.length + 4);
    return framed;
  };
  const header = Buffer.alloc(13);
  header.writeUInt32BE(side, 0);
  header.writeUInt32BE(side, 4);
  header[8] = 8; // bits per sample
  header[9] = 2; // RGB
  return Buffer.concat([
    Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]),
    chunk('IHDR', header),
    chunk('IDAT', deflateSync(raw, { level: 0 })),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}
