// The inference Web Worker: keeps the model in its own Cache Storage entry (keyed by
// sha256, outside go-app's versioned cache), hands it to worker.wasm (Go: screen package)
// and screens queued files one at a time, so the page's thread never runs the model.
//
// Page -> worker: {type:"load", engine?}; {type:"screen", id, name, bytes: ArrayBuffer or
// Blob, site?: a site profile's JSON text, whose point the result then decides at too};
// {type:"calibrate", id, request}; {type:"checkSite", id, profile} (siteCall, below). The
// page sends the File itself (a Blob: cloning it copies no bytes), so a queued
// batch holds no file in memory; the worker reads it when its turn comes.
// Worker -> page: {type:"progress", stage, loaded, total}; {type:"ready", name, version,
// sha256, trained, thresholdName, thresholdValue, engine, metadata (JSON text)};
// {type:"fatal", message}; {type:"stage", id, stage}; {type:"result", id, prob, positive,
// decisions: [{name, verdict, text, site}], heatmap: ArrayBuffer RGBA, size, seconds, decodedAt,
// wasmBytes, fileSha256}; {type:"error", id, message, fileSha256}. fileSha256 is the hex
// SHA-256 of the file's bytes (for the page's audit log; "" when the file could not be read).
// The thresholds come once, in "ready"; a result carries its verdict at each of them.
// engine picks the wasm binary this worker runs: "" (the product, worker.wasm: convnet) or
// "onnx-go" (refworker.wasm: the onnx-go reference, which the page starts only for a
// cross-check the user asks for, and the benchmark page to measure it). bench/web reads decodedAt
// (performance.timeOrigin-based ms, comparable across the page and the worker) and
// wasmBytes (the Go linear memory, which never shrinks, so its latest size is its peak).
"use strict";

importScripts("/wasm_exec.js");

const MODEL_CACHE = "pneumoscan-models";
const MANIFEST_URL = "/web/model.json";
const WASM_URLS = { "": "/web/worker.wasm", "onnx-go": "/web/refworker.wasm" };

let engine = null;     // globalThis.pneumoscan, set by worker.wasm
let memory = null;     // worker.wasm's linear memory (Go exports it as "mem")
let loading = null;    // promise of the loaded model
const queue = [];
let draining = false;

function hex(buf) {
  return Array.from(new Uint8Array(buf), (b) => b.toString(16).padStart(2, "0")).join("");
}

async function sha256(buf) {
  return hex(await crypto.subtle.digest("SHA-256", buf));
}

async function startGo(engineName) {
  const url = WASM_URLS[engineName || ""];
  if (!url) throw new Error("unknown engine " + JSON.stringify(engineName));
  const go = new Go();
  // refworker.wasm lives outside go-app's versioned cache: after an update a plain static
  // server's Last-Modified could let the HTTP cache hand back the old binary, so it is
  // revalidated (a 304 costs nothing). worker.wasm comes from the versioned cache.
  const resp = await fetch(url, engineName ? { cache: "no-cache" } : {});
  if (!resp.ok) throw new Error("loading " + url + " failed: HTTP " + resp.status);
  const { instance } = await WebAssembly.instantiate(await resp.arrayBuffer(), go.importObject);
  memory = instance.exports.mem;
  go.run(instance); // main registers globalThis.pneumoscan before it blocks
  if (!globalThis.pneumoscan) throw new Error(url + " did not register its functions");
  return globalThis.pneumoscan;
}

async function download(manifest) {
  const resp = await fetch(manifest.url);
  if (!resp.ok) throw new Error("downloading the model failed: HTTP " + resp.status + " for " + manifest.url);
  const total = Number(resp.headers.get("Content-Length")) || manifest.size;
  const reader = resp.body.getReader();
  const out = new Uint8Array(manifest.size);
  let loaded = 0;
  let last = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    if (loaded + value.length > out.length) throw new Error("the model file is larger than its manifest says (" + manifest.size + " bytes)");
    out.set(value, loaded);
    loaded += value.length;
    const now = Date.now();
    if (now - last > 100) {
      postMessage({ type: "progress", stage: "downloading", loaded, total });
      last = now;
    }
  }
  if (loaded !== manifest.size) throw new Error("the model download is incomplete: " + loaded + " of " + manifest.size + " bytes");
  postMessage({ type: "progress", stage: "downloading", loaded, total });
  return out.buffer;
}

function checkSum(got, manifest, where) {
  if (got !== manifest.sha256) {
    throw new Error("the model file " + where + " failed verification: sha256 " + got + ", expected " + manifest.sha256);
  }
}

async function loadModel(engineName) {
  postMessage({ type: "progress", stage: "starting the engine", loaded: 0, total: 0 });
  engine = await startGo(engineName);
  const mresp = await fetch(MANIFEST_URL);
  if (!mresp.ok) throw new Error("loading " + MANIFEST_URL + " failed: HTTP " + mresp.status);
  const manifest = await mresp.json();
  const cache = await caches.open(MODEL_CACHE);
  let bytes = null;
  const hit = await cache.match(manifest.url);
  if (hit) {
    postMessage({ type: "progress", stage: "reading the cached model", loaded: 0, total: manifest.size });
    bytes = await hit.arrayBuffer();
    if ((await sha256(bytes)) !== manifest.sha256) {
      await cache.delete(manifest.url); // corrupt entry: fetch again
      bytes = null;
    }
  }
  if (bytes === null) {
    bytes = await download(manifest);
    checkSum(await sha256(bytes), manifest, "downloaded from " + manifest.url);
    await cache.put(manifest.url, new Response(bytes.slice(0), { headers: { "Content-Type": "application/octet-stream" } }));
  }
  // Older models are never needed again.
  for (const req of await cache.keys()) {
    if (new URL(req.url).pathname !== manifest.url) await cache.delete(req);
  }
  postMessage({ type: "progress", stage: "building the model graph", loaded: manifest.size, total: manifest.size });
  const meta = engine.load(new Uint8Array(bytes));
  if (meta.error) throw new Error(meta.error);
  checkSum(meta.sha256, manifest, "handed to the engine");
  postMessage(Object.assign({ type: "ready" }, meta));
}

async function drain() {
  if (draining) return;
  draining = true;
  try {
    while (queue.length > 0) {
      const job = queue.shift();
      let fileSha256 = "";
      try {
        await loading;
        postMessage({ type: "stage", id: job.id, stage: "decoding" });
        const bytes = job.bytes instanceof Blob ? await job.bytes.arrayBuffer() : job.bytes;
        fileSha256 = await sha256(bytes);
        await new Promise((r) => setTimeout(r, 0)); // let the stage message go out first
        const t0 = performance.now();
        let decodedAt = 0;
        const res = engine.screen(new Uint8Array(bytes), (stage) => {
          if (stage === "running") decodedAt = performance.timeOrigin + performance.now(); // screen.Running starts once the image is decoded
          postMessage({ type: "stage", id: job.id, stage });
        }, job.site || "");
        if (res.error) {
          postMessage({ type: "error", id: job.id, message: res.error, category: res.code || "", fileSha256 });
          continue;
        }
        res.seconds = (performance.now() - t0) / 1000;
        res.decodedAt = decodedAt;
        res.wasmBytes = memory ? memory.buffer.byteLength : 0;
        res.fileSha256 = fileSha256;
        postMessage(Object.assign({ type: "result", id: job.id }, res), [res.heatmap]);
      } catch (err) {
        postMessage({ type: "error", id: job.id, message: String(err && err.message ? err.message : err), fileSha256 });
      }
      await new Promise((r) => setTimeout(r, 0)); // take in newly queued files
    }
  } finally {
    draining = false;
  }
}

// siteCall answers a "calibrate" {id, request: JSON text} with {type: "calibrated", id,
// answer: JSON text}, a "checkSite" {id, profile: JSON text} with {type: "site-checked", id,
// profile}; either fails with {type: "site-error", id, call, message}.
async function siteCall(msg) {
  try {
    await loading;
    const res = msg.type === "calibrate" ? engine.calibrate(msg.request) : engine.checkSite(msg.profile);
    if (res.error) throw new Error(res.error);
    postMessage(msg.type === "calibrate" ? { type: "calibrated", id: msg.id, answer: res.answer } : { type: "site-checked", id: msg.id, profile: res.profile });
  } catch (err) {
    postMessage({ type: "site-error", id: msg.id, call: msg.type, message: String(err && err.message ? err.message : err) });
  }
}

onmessage = (e) => {
  const msg = e.data;
  switch (msg.type) {
    case "load":
      if (!loading) {
        loading = loadModel(msg.engine);
        loading.catch((err) => postMessage({ type: "fatal", message: String(err && err.message ? err.message : err) }));
      }
      break;
    case "screen":
      queue.push(msg);
      drain();
      break;
    case "calibrate": // site calibration: the bridge's metrics.Site on the page's scores
    case "checkSite": // a site profile the page keeps or imports, checked against this model
      siteCall(msg);
      break;
  }
};
