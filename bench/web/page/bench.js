// The benchmark page's script. It is never part of the product site: bench/web serves it
// beside static/ and calls window.bench.* through the DevTools protocol.
//
// (a) the product's own inference worker (/web/worker.js + worker.wasm, unchanged, with its
//     real message protocol); the time per image runs from the worker's "image decoded"
//     (result.decodedAt) to the probability and Grad-CAM heatmap drawn on this page.
// (b) onnxruntime-web (wasm backend, 1 thread) on the same model file (the URL in
//     /web/model.json) and the input tensor Go's preprocess package made from the same
//     decoded image; the time per image is session.run, with both outputs read.
"use strict";

// Every time here is performance.timeOrigin + performance.now(): comparable between this
// page and the worker, whose decodedAt is taken the same way.
const now = () => performance.timeOrigin + performance.now();

// onnxruntime-web has no API for the size of its wasm linear memory, so note every
// WebAssembly.Memory that is imported into or exported from a module instantiated on this
// page (only ORT instantiates wasm here; the Go worker runs in its own global scope).
const ortMemories = new Set();
function noteMemories(imports, result) {
  const scan = (o) => {
    if (!o || typeof o !== "object") return;
    for (const v of Object.values(o)) if (v instanceof WebAssembly.Memory) ortMemories.add(v);
  };
  if (imports) for (const m of Object.values(imports)) scan(m);
  const inst = result && (result.instance || result);
  if (inst && inst.exports) scan(inst.exports);
}
for (const name of ["instantiate", "instantiateStreaming"]) {
  const orig = WebAssembly[name];
  WebAssembly[name] = async function (source, imports) {
    const r = await orig.call(WebAssembly, source, imports);
    noteMemories(imports, r);
    return r;
  };
}
function ortWasmBytes() {
  let n = 0;
  for (const m of ortMemories) n = Math.max(n, m.buffer.byteLength);
  return n;
}

function status(s) {
  document.getElementById("status").textContent = s;
}

let cfg = null;
const images = []; // {name, bytes: ArrayBuffer (the file), tensor: Float32Array (Go's preprocess)}

// prepare fetches the config and every image and tensor up front, so no timing below
// includes this server's HTTP.
async function prepare() {
  cfg = await (await fetch("/bench/config.json")).json();
  images.length = 0;
  for (const im of cfg.images) {
    const [bytes, tensor] = await Promise.all([
      fetch(im.url).then((r) => r.arrayBuffer()),
      fetch(im.tensor).then((r) => r.arrayBuffer()),
    ]);
    images.push({ name: im.name, bytes, tensor: new Float32Array(tensor) });
  }
  status("prepared " + images.length + " images");
  return images.length;
}

// ---- (a) the product worker ----

let worker = null;
let pending = new Map(); // screen id -> resolve(result or error message)
let nextID = 0;

// loadPage starts a fresh product worker and loads the model into it, as the page does
// ({type:"load"}); engine "" is the worker's default, "onnx-go" the old engine. The time
// runs from new Worker to its "ready" message.
function loadPage(engine) {
  if (worker) worker.terminate();
  pending = new Map();
  status("loading the page engine " + (engine || "(default)"));
  return new Promise((resolve, reject) => {
    const t0 = now();
    worker = new Worker(cfg.workerScript);
    const fail = (msg) => {
      for (const p of pending.values()) p({ type: "error", message: msg });
      pending.clear();
      reject(new Error(msg));
    };
    worker.onerror = (e) => fail("the product worker failed: " + e.message);
    worker.onmessage = (e) => {
      const m = e.data;
      switch (m.type) {
        case "ready":
          resolve({ ms: now() - t0, engine: m.engine, sha256: m.sha256 });
          break;
        case "fatal":
          fail(m.message);
          break;
        case "result":
        case "error": {
          const p = pending.get(m.id);
          if (p) {
            pending.delete(m.id);
            p(m);
          }
          break;
        }
      }
    };
    const msg = { type: "load" };
    if (engine) msg.engine = engine;
    worker.postMessage(msg);
  });
}

// draw shows a result the way the product page does (web/card.go): the probability as
// text and the worker's RGBA heatmap put into a canvas.
function draw(m) {
  document.getElementById("prob").textContent = "P(pneumonia) = " + m.prob.toFixed(3);
  const c = document.getElementById("heatmap");
  if (c.width !== m.size) c.width = m.size;
  if (c.height !== m.size) c.height = m.size;
  c.getContext("2d").putImageData(new ImageData(new Uint8ClampedArray(m.heatmap), m.size, m.size), 0, 0);
}

async function screenPage(i) {
  const im = images[i];
  const id = ++nextID;
  const done = new Promise((resolve) => pending.set(id, resolve));
  const bytes = im.bytes.slice(0); // transferred to the worker, as the page does
  status("page engine: " + im.name);
  const posted = now();
  worker.postMessage({ type: "screen", id, name: im.name, bytes }, [bytes]);
  const m = await done;
  if (m.type === "error") throw new Error(im.name + ": " + m.message);
  draw(m);
  const drawn = now();
  return {
    ms: drawn - m.decodedAt,     // image decoded -> probability and heatmap drawn
    totalMs: drawn - posted,     // file bytes posted -> drawn (adds decode and messaging)
    workerMs: m.seconds * 1000,  // the worker's own decode + screen time
    prob: m.prob,
    wasmBytes: m.wasmBytes,
  };
}

// ---- (b) onnxruntime-web ----

let ort = null;
let session = null;

// loadOrt imports onnxruntime-web and creates a session on the site's model file; the
// time covers the import, ORT's wasm, the model fetch and the session. cold fetches the
// model past the HTTP cache (the product worker's own fetch has just filled it).
async function loadOrt(cold) {
  status("loading onnxruntime-web");
  const t0 = now();
  ort = await import(cfg.ort.module);
  ort.env.wasm.numThreads = 1;
  ort.env.wasm.proxy = false;
  ort.env.wasm.wasmPaths = cfg.ort.dir;
  const manifest = await (await fetch(cfg.manifest, { cache: "no-cache" })).json();
  const resp = await fetch(manifest.url, { cache: cold ? "reload" : "default" });
  if (!resp.ok) throw new Error("fetching " + manifest.url + ": HTTP " + resp.status);
  const bytes = new Uint8Array(await resp.arrayBuffer());
  session = await ort.InferenceSession.create(bytes, { executionProviders: ["wasm"], graphOptimizationLevel: "all" });
  return { ms: now() - t0, inputs: session.inputNames, outputs: session.outputNames, wasmBytes: ortWasmBytes(), memories: ortMemories.size };
}

// calibrate is screen.calibrate: sigmoid(logit(p) / T), as the page engine reports P.
function calibrate(p, t) {
  if (t === 1) return p;
  const logit = Math.log(p) - Math.log1p(-p);
  return 1 / (1 + Math.exp(-logit / t));
}

async function screenOrt(i) {
  const im = images[i];
  status("onnxruntime-web: " + im.name);
  const t0 = now();
  const input = new ort.Tensor("float32", im.tensor, cfg.inputDims);
  const out = await session.run({ [cfg.inputName]: input });
  const raw = out[cfg.probName].data[0];
  const features = out[cfg.featuresName].data.length; // Grad-CAM would need them too
  const ms = now() - t0;
  for (const k in out) out[k].dispose();
  return { ms, prob: calibrate(raw, cfg.temperature), features, wasmBytes: ortWasmBytes() };
}

window.bench = { prepare, loadPage, screenPage, loadOrt, screenOrt };
status("ready");
