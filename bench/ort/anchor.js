// onnxruntime single-thread latency of one 224x224 MobileNet inference: the anchor the Go engine
// is compared with. Usage: node anchor.js MODEL.onnx INPUT.f32 [RUNS] [WARMUP]
// Prints one JSON line: {"engine":"onnxruntime","median_ms":..,"min_ms":..,"runs":..}.
const ort = require('onnxruntime-node');
const fs = require('fs');

async function main() {
  const [model, input, runsArg, warmArg] = process.argv.slice(2);
  if (!model || !input) {
    console.error('usage: node anchor.js MODEL.onnx INPUT.f32 [RUNS] [WARMUP]');
    process.exit(2);
  }
  const runs = parseInt(runsArg || '50', 10);
  const warmup = parseInt(warmArg || '10', 10);
  const t0 = process.hrtime.bigint();
  const session = await ort.InferenceSession.create(model, {
    intraOpNumThreads: 1, interOpNumThreads: 1, executionMode: 'sequential', graphOptimizationLevel: 'all',
  });
  const loadMs = Number(process.hrtime.bigint() - t0) / 1e6;
  const buf = fs.readFileSync(input);
  const data = new Float32Array(buf.buffer, buf.byteOffset, buf.byteLength / 4);
  const feeds = { [session.inputNames[0]]: new ort.Tensor('float32', data, [1, 3, 224, 224]) };
  for (let i = 0; i < warmup; i++) await session.run(feeds);
  const times = [];
  for (let i = 0; i < runs; i++) {
    const s = process.hrtime.bigint();
    await session.run(feeds);
    times.push(Number(process.hrtime.bigint() - s) / 1e6);
  }
  times.sort((a, b) => a - b);
  console.log(JSON.stringify({ engine: 'onnxruntime', median_ms: times[Math.floor(runs / 2)], min_ms: times[0], runs, load_ms: loadMs }));
}
main().catch((e) => { console.error(e); process.exit(1); });
