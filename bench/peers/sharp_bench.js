// Times libvips (sharp, pinned in package-lock.json) on the peer bench's inputs.
//
// Usage: node sharp_bench.js INPUT_DIR RUNS. Prints JSON {file: median milliseconds, _renditions:
// {file: median milliseconds of the default rendition set}} on stdout:
// wall-clock time, or CPU time (of the whole process) with BENCH_PEERS_CLOCK=cpu.
// One libvips thread, no operation cache; each run is a 256 px thumbnail (libvips shrinks JPEGs
// on load) written as a JPEG q80, as the processor does.
// AVIF goes through libvips' heifload: libheif with aom (the prebuilt libvips has no dav1d). That
// libheif has no HEVC decoder, so HEIC fails: an input sharp cannot read is not timed, its entry is
// {"error": message}. "_decoders" says what decoded the HEIF inputs.
'use strict';

const fs = require('fs');
const path = require('path');
const sharp = require('sharp');

const cpu = process.env.BENCH_PEERS_CLOCK === 'cpu';

sharp.concurrency(1);
sharp.cache(false);

async function thumbnail(data) {
  return sharp(data, { limitInputPixels: false })
    .resize(256, 256, { fit: 'inside' })
    .jpeg({ quality: 80 })
    .toBuffer();
}

// The default rendition set: 1600 px and 256 px, JPEG q80, the fastest of two ways: a pipeline
// each (each shrinks on load), or one decode to a 1600 px raw image that both are made from.
async function renditionsTwoPipelines(data) {
  const display = await sharp(data, { limitInputPixels: false })
    .resize(1600, 1600, { fit: 'inside', withoutEnlargement: true })
    .jpeg({ quality: 80 })
    .toBuffer();
  return [display, await thumbnail(data)];
}

async function renditionsOneDecode(data) {
  const { data: pixels, info } = await sharp(data, { limitInputPixels: false })
    .resize(1600, 1600, { fit: 'inside', withoutEnlargement: true })
    .raw()
    .toBuffer({ resolveWithObject: true });
  const raw = { raw: { width: info.width, height: info.height, channels: info.channels } };
  const display = await sharp(pixels, raw).jpeg({ quality: 80 }).toBuffer();
  const small = await sharp(pixels, raw)
    .resize(256, 256, { fit: 'inside' })
    .jpeg({ quality: 80 })
    .toBuffer();
  return [display, small];
}

async function median(runs, work) {
  const times = [];
  for (let i = 0; i < runs; i++) {
    const [start, startCpu] = [process.hrtime.bigint(), process.cpuUsage()];
    await work();
    if (cpu) {
      const used = process.cpuUsage(startCpu);
      times.push((used.user + used.system) / 1e3);
    } else {
      times.push(Number(process.hrtime.bigint() - start) / 1e6);
    }
  }
  times.sort((a, b) => a - b);
  const mid = times.length >> 1;
  return times.length % 2 ? times[mid] : (times[mid - 1] + times[mid]) / 2;
}

async function main() {
  const [directory, runs] = [process.argv[2], Number(process.argv[3])];
  const listing = JSON.parse(fs.readFileSync(path.join(directory, 'inputs.json'), 'utf8'));
  const results = {};
  const renditions = {};
  for (const entry of listing) {
    const data = fs.readFileSync(path.join(directory, entry.file));
    try {
      await thumbnail(data); // warm-up
    } catch (error) {
      // libvips stacks its errors: the loader's own is the last line.
      const message = String(error.message || error).trim().split('\n').pop();
      console.error(`bench-peers: sharp on ${entry.file}: ${message}`);
      results[entry.file] = { error: message };
      continue;
    }
    results[entry.file] = await median(runs, () => thumbnail(data));
    await renditionsTwoPipelines(data);
    await renditionsOneDecode(data);
    renditions[entry.file] = Math.min(
      await median(runs, () => renditionsTwoPipelines(data)),
      await median(runs, () => renditionsOneDecode(data)),
    );
  }
  results._renditions = renditions;
  const v = sharp.versions;
  results._decoders = {
    heic: `sharp ${v.sharp}: libvips ${v.vips}, libheif ${v.heif} (no HEVC decoder)`,
    avif: `sharp ${v.sharp}: libvips ${v.vips}, libheif ${v.heif}, aom ${v.aom}`,
  };
  process.stdout.write(JSON.stringify(results) + '\n');
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
