// Times onnxruntime-node (the reference for `make bench`, installed into node_modules/ by the
// Makefile; the product never loads it) on the input tensors bench/native wrote: one intra-op
// thread and sequential execution, as the Go engine runs. Usage:
//   node ort.mjs model.onnx tensors.bin count runs
// tensors.bin holds count float32 little-endian NCHW tensors back to back. Prints one JSON
// object: the per-image median of runs timings (after a warm-up run) and each image's P.
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import path from 'node:path';

const require = createRequire(path.join(process.cwd(), 'package.json'));
const ort = require('onnxruntime-node');
const [model, tensors, countArg, runsArg] = process.argv.slice(2);
const count = Number(countArg), runs = Number(runsArg);
const session = await ort.InferenceSession.create(model, {
  intraOpNumThreads: 1, interOpNumThreads: 1, executionMode: 'sequential', graphOptimizationLevel: 'all',
});
const buf = readFileSync(tensors);
const all = new Float32Array(buf.buffer, buf.byteOffset, buf.byteLength / 4);
const per = all.length / count;
const side = Math.round(Math.sqrt(per / 3));
const input = session.inputNames[0];
const ms = [], probs = [];
for (let i = 0; i < count; i++) {
  const feeds = { [input]: new ort.Tensor('float32', all.subarray(i * per, (i + 1) * per), [1, 3, side, side]) };
  await session.run(feeds); // warm-up: first-run allocations
  const times = [];
  let p = NaN;
  for (let r = 0; r < runs; r++) {
    const t0 = process.hrtime.bigint();
    const out = await session.run(feeds);
    times.push(Number(process.hrtime.bigint() - t0) / 1e6);
    p = out.prob.data[0];
  }
  times.sort((a, b) => a - b);
  ms.push(times[Math.floor(times.length / 2)]);
  probs.push(p);
}
console.log(JSON.stringify({ version: ort.env.versions?.node ?? require('onnxruntime-node/package.json').version, ms, probs }));
