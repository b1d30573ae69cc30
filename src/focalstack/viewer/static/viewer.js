// focalstack viewer: one or two result folders of `focalstack depth` in the browser.
// The data (DATA, a JSON block of the page) is described in focalstack/viewer/assets.py; every asset is a URL,
// relative to the server (`focalstack view`) or a data: URL (the self-contained report.html).
(() => {
  "use strict";
  const DATA = JSON.parse(document.getElementById("focalstack-data").textContent);
  const $ = (id) => document.getElementById(id);
  const state = { index: -1, current: null, threshold: 0, pixel: null, view: null };
  const api = { state, ready: false };
  window.focalstackViewer = api;

  // --- loading ------------------------------------------------------------------------------------------------
  async function loadBytes(url) {
    if (url.startsWith("data:")) {
      const text = atob(url.slice(url.indexOf(",") + 1));
      const bytes = new Uint8Array(text.length);
      for (let i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i);
      return bytes;
    }
    const response = await fetch(url);
    if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
    return new Uint8Array(await response.arrayBuffer());
  }

  function loadImage(url) {
    return new Promise((resolve, reject) => {
      const image = new Image();
      image.onload = () => resolve(image);
      image.onerror = () => reject(new Error(`cannot load ${url.slice(0, 60)}`));
      image.src = url;
    });
  }

  const loaded = new Map();
  async function loadResult(k) {
    if (loaded.has(k)) return loaded.get(k);
    const desc = DATA.results[k];
    const [depthBytes, confBytes, aif] = await Promise.all(
      [loadBytes(desc.urls.depth), loadBytes(desc.urls.confidence), loadImage(desc.urls.aif)]);
    const w = desc.grid.width, h = desc.grid.height, n = w * h;
    const view = new DataView(depthBytes.buffer, depthBytes.byteOffset, depthBytes.byteLength);
    const depth = new Float64Array(n), confidence = new Float32Array(n);
    for (let p = 0; p < n; p++) {  // 0 = no depth, q = offset + (q - 1) scale
      const q = view.getUint16(2 * p, true);
      depth[p] = q === 0 ? NaN : desc.depth.offset + (q - 1) * desc.depth.scale;
      confidence[p] = confBytes[p] / 255;
    }
    const canvas = document.createElement("canvas");
    canvas.width = w; canvas.height = h;
    const context = canvas.getContext("2d", { willReadFrequently: true });
    context.drawImage(aif, 0, 0, w, h);
    const result = { k, desc, w, h, depth, confidence, aif, aifPixels: context.getImageData(0, 0, w, h).data };
    loaded.set(k, result);
    return result;
  }

  // --- 2D maps --------------------------------------------------------------------------------------------------
  function depthColor(desc, value) {  // the colours of depth_preview.png: linear in the blur coordinate
    const bar = desc.colorbar;
    const blur = bar.inverse ? 1 / value : value;
    const t = Math.min(1, Math.max(0, (blur - bar.lo) / (bar.hi - bar.lo)));
    const i = Math.round(t * 255) * 3;
    return [bar.lut[i], bar.lut[i + 1], bar.lut[i + 2]];
  }

  function sizeCanvas(canvas, R) {
    if (canvas.width !== R.w || canvas.height !== R.h) { canvas.width = R.w; canvas.height = R.h; }
    return canvas.getContext("2d");
  }

  function drawMaps() {
    const R = state.current, thr = state.threshold, n = R.w * R.h;
    sizeCanvas($("aif-canvas"), R).drawImage(R.aif, 0, 0, R.w, R.h);
    const depthContext = sizeCanvas($("depth-canvas"), R), confContext = sizeCanvas($("confidence-canvas"), R);
    const depthImage = depthContext.createImageData(R.w, R.h), confImage = confContext.createImageData(R.w, R.h);
    let masked = 0;
    for (let p = 0; p < n; p++) {
      const c = R.confidence[p], value = R.depth[p], hide = c < thr;
      masked += hide ? 1 : 0;
      const o = 4 * p;
      if (!hide && Number.isFinite(value)) {
        const rgb = depthColor(R.desc, value);
        depthImage.data[o] = rgb[0]; depthImage.data[o + 1] = rgb[1]; depthImage.data[o + 2] = rgb[2];
        depthImage.data[o + 3] = 255;
      }
      if (!hide) {
        const grey = Math.round(c * 255);
        confImage.data[o] = grey; confImage.data[o + 1] = grey; confImage.data[o + 2] = grey; confImage.data[o + 3] = 255;
      }
    }
    depthContext.putImageData(depthImage, 0, 0);
    confContext.putImageData(confImage, 0, 0);
    $("masked-fraction").textContent = thr > 0 ? `${(100 * masked / n).toFixed(1)} % of pixels hidden` : "";
    state.masked = masked;
  }

  function drawColorbar(desc) {
    const bar = desc.colorbar, canvas = $("colorbar-canvas"), context = canvas.getContext("2d");
    const image = context.createImageData(1, 256);
    for (let y = 0; y < 256; y++) {  // top = hi
      const i = (255 - y) * 3, o = 4 * y;
      image.data[o] = bar.lut[i]; image.data[o + 1] = bar.lut[i + 1]; image.data[o + 2] = bar.lut[i + 2];
      image.data[o + 3] = 255;
    }
    context.putImageData(image, 0, 0);
    const ticks = $("colorbar-ticks");
    ticks.replaceChildren(...bar.ticks.map(([t, label]) => {
      const span = document.createElement("span");
      span.style.bottom = `${(100 * t).toFixed(2)}%`;
      span.textContent = `– ${label}`;
      return span;
    }));
    $("depth-unit").textContent = `(${bar.label}${bar.inverse ? ", colours linear in 1/m" : ""})`;
  }

  // --- the readout under the cursor -----------------------------------------------------------------------------
  function sourcePixel(desc, i, j) {  // the result's pixel that page pixel (i, j) samples (assets.sample_rows_cols)
    const H = desc.size.height, W = desc.size.width, h = desc.grid.height, w = desc.grid.width;
    return [Math.min(Math.floor((i + 0.5) * H / h), H - 1), Math.min(Math.floor((j + 0.5) * W / w), W - 1)];
  }

  function showPixel(i, j) {
    const R = state.current;
    if (!R || i < 0 || j < 0 || i >= R.h || j >= R.w) return;
    state.pixel = [i, j];
    const p = i * R.w + j, [row, col] = sourcePixel(R.desc, i, j), value = R.depth[p], c = R.confidence[p];
    const depthOut = $("readout-depth"), confOut = $("readout-confidence");
    $("readout-pixel").textContent = `x ${col}, y ${row}`;
    depthOut.textContent = Number.isFinite(value) ? `${value.toFixed(R.desc.depth.decimals)} ${R.desc.unit}` : "no depth";
    depthOut.dataset.value = Number.isFinite(value) ? String(value) : "";
    confOut.textContent = c.toFixed(3);
    confOut.dataset.value = String(c);
    const hidden = c < state.threshold;
    depthOut.classList.toggle("masked", hidden);
    confOut.classList.toggle("masked", hidden);
    for (const cursor of document.querySelectorAll(".cursor")) {
      cursor.style.display = "block";
      cursor.style.left = `${(100 * (j + 0.5) / R.w).toFixed(3)}%`;
      cursor.style.top = `${(100 * (i + 0.5) / R.h).toFixed(3)}%`;
    }
  }

  function onHover(event) {
    const R = state.current, rect = event.currentTarget.getBoundingClientRect();
    if (!R || rect.width === 0) return;
    const j = Math.floor((event.clientX - rect.left) / rect.width * R.w);
    const i = Math.floor((event.clientY - rect.top) / rect.height * R.h);
    showPixel(Math.min(i, R.h - 1), Math.min(j, R.w - 1));
  }

  // --- slices ---------------------------------------------------------------------------------------------------
  function showSlices(desc) {
    const items = desc.slices.items, slider = $("slice-index"), note = $("slices-note");
    note.hidden = items.length > 0;
    note.textContent = items.length ? "" : `Slices not available: ${desc.slices.reason}.`;
    slider.hidden = $("slice-image").hidden = items.length === 0;
    slider.max = String(Math.max(0, items.length - 1));
    slider.value = "0";
    showSlice(desc, 0);
  }

  function showSlice(desc, k) {
    const item = desc.slices.items[k];
    if (!item) { $("slice-label").textContent = ""; return; }
    $("slice-image").src = desc.urls.slices[k];
    const position = item.position === null ? "" : Number(item.position.toPrecision(6));
    const where = position === "" ? "" : desc.unit === "index" ? `, focus index ${position}` : `, focused at ${position} ${desc.unit}`;
    $("slice-label").textContent = `${k + 1} of ${desc.slices.items.length}: ${item.name}${where} (as photographed)`;
  }

  // --- 3D -------------------------------------------------------------------------------------------------------
  function webglAvailable() {
    const probe = document.createElement("canvas");
    return Boolean(window.WebGL2RenderingContext && probe.getContext("webgl2"));
  }

  function makeView() {
    if (!window.THREE || !webglAvailable()) {
      $("view3d-note").hidden = false;
      $("view3d-note").textContent = "The 3D view needs WebGL 2, which this browser does not provide.";
      return null;
    }
    const canvas = $("view3d");
    const renderer = new THREE.WebGLRenderer({ canvas, antialias: true, preserveDrawingBuffer: true });
    renderer.outputColorSpace = THREE.LinearSRGBColorSpace;  // vertex colours are already display values
    renderer.setPixelRatio(window.devicePixelRatio || 1);
    renderer.setClearColor(0x0c0d10, 1);
    const scene = new THREE.Scene();
    const view = { renderer, scene, canvas, camera: null, controls: null, object: null, cloud: null };
    const render = () => { if (view.camera) renderer.render(scene, view.camera); };
    view.render = render;
    new ResizeObserver(() => { resizeView(view); render(); }).observe(canvas);
    return view;
  }

  function resizeView(view) {
    const width = Math.max(1, view.canvas.clientWidth), height = Math.max(1, view.canvas.clientHeight);
    view.renderer.setSize(width, height, false);
    const camera = view.camera;
    if (!camera) return;
    const aspect = width / height;
    if (camera.isPerspectiveCamera) camera.aspect = aspect;
    else { camera.left = -camera.top * aspect; camera.right = camera.top * aspect; }
    camera.updateProjectionMatrix();
  }

  // The vertices: a grid of at most max_3d_points page pixels, each the result's pixel it samples, back-projected
  // by depth_to_point_cloud's rule (assets.projection); drawn in three.js axes (x right, y up, z toward the viewer).
  function buildCloud(R) {
    const desc = R.desc, P = desc.projection, W = desc.size.width, H = desc.size.height;
    const s = Math.min(1, Math.sqrt(desc.max_3d_points / (R.w * R.h)));
    const w3 = Math.max(1, Math.round(R.w * s)), h3 = Math.max(1, Math.round(R.h * s)), n = w3 * h3;
    const points = new Float64Array(3 * n), valid = new Uint8Array(n), page = new Int32Array(n);
    const pixels = new Int32Array(2 * n);
    let lo = Infinity, hi = -Infinity;
    for (let i3 = 0; i3 < h3; i3++) {
      const i = Math.min(Math.floor((i3 + 0.5) * R.h / h3), R.h - 1);
      for (let j3 = 0; j3 < w3; j3++) {
        const j = Math.min(Math.floor((j3 + 0.5) * R.w / w3), R.w - 1), k = i3 * w3 + j3, p = i * R.w + j;
        const [row, col] = sourcePixel(desc, i, j), value = R.depth[p];
        page[k] = p; pixels[2 * k] = row; pixels[2 * k + 1] = col;
        let x, y, z;
        if (P.kind === "pinhole") {
          z = P.inverse ? 1 / value : value;
          x = (col - P.cx) * z / P.f; y = (row - P.cy) * z / P.f;
        } else { x = col; y = row; z = value; }
        if (!(Number.isFinite(z) && (P.kind !== "pinhole" || z > 0))) continue;
        valid[k] = 1;
        points[3 * k] = x; points[3 * k + 1] = y; points[3 * k + 2] = z;
        lo = Math.min(lo, z); hi = Math.max(hi, z);
      }
    }
    if (!(hi >= lo)) { lo = 1; hi = 2; }  // no valid vertex: any range draws nothing
    const zs = [];
    for (let k = 0; k < n; k += Math.max(1, Math.floor(n / 4096))) if (valid[k]) zs.push(points[3 * k + 2]);
    zs.sort((a, b) => a - b);
    const median = zs.length ? zs[zs.length >> 1] : (lo + hi) / 2;
    return { w3, h3, n, points, valid, page, pixels, lo, hi, median };
  }

  function makeGeometry(R, cloud) {
    const P = R.desc.projection, W = R.desc.size.width, H = R.desc.size.height;
    const positions = new Float32Array(3 * cloud.n), image = new Uint8Array(3 * cloud.n);
    const depthColors = new Uint8Array(3 * cloud.n);
    const mid = (cloud.lo + cloud.hi) / 2, span = cloud.hi > cloud.lo ? cloud.hi - cloud.lo : 1;
    const relief = 0.25 * Math.max(W, H) / span;  // orthographic: the depth range spans a quarter of the image
    for (let k = 0; k < cloud.n; k++) {
      const o = 3 * k, p = cloud.page[k], x = cloud.points[o], y = cloud.points[o + 1], z = cloud.points[o + 2];
      if (P.kind === "pinhole") {
        positions[o] = x; positions[o + 1] = -y; positions[o + 2] = -z;
      } else {
        positions[o] = x - (W - 1) / 2; positions[o + 1] = -(y - (H - 1) / 2);
        positions[o + 2] = cloud.valid[k] ? -P.far * (z - mid) * relief : 0;
      }
      image[o] = R.aifPixels[4 * p]; image[o + 1] = R.aifPixels[4 * p + 1]; image[o + 2] = R.aifPixels[4 * p + 2];
      if (cloud.valid[k]) depthColors.set(depthColor(R.desc, R.depth[p]), o);
    }
    const geometry = new THREE.BufferGeometry();
    geometry.setAttribute("position", new THREE.BufferAttribute(positions, 3));
    cloud.colors = {
      image: new THREE.BufferAttribute(image, 3, true), depth: new THREE.BufferAttribute(depthColors, 3, true),
    };
    geometry.setAttribute("color", cloud.colors[$("view3d-color").value]);
    geometry.computeBoundingSphere();
    return geometry;
  }

  function cloudIndex(R, cloud, mode) {  // vertices (points) or triangles (mesh) above the confidence threshold
    const keep = new Uint8Array(cloud.n), thr = state.threshold;
    for (let k = 0; k < cloud.n; k++) keep[k] = cloud.valid[k] && R.confidence[cloud.page[k]] >= thr ? 1 : 0;
    const out = [];
    if (mode === "points") {
      for (let k = 0; k < cloud.n; k++) if (keep[k]) out.push(k);
      return new Uint32Array(out);
    }
    const jump = 0.05 * (cloud.hi - cloud.lo), z = (k) => cloud.points[3 * k + 2];
    const ok = (a, b, c) => keep[a] && keep[b] && keep[c] &&
      Math.max(z(a), z(b), z(c)) - Math.min(z(a), z(b), z(c)) <= jump;  // no curtains across depth edges
    for (let i = 0; i + 1 < cloud.h3; i++) {
      for (let j = 0; j + 1 < cloud.w3; j++) {
        const a = i * cloud.w3 + j, b = a + 1, c = a + cloud.w3, d = c + 1;
        if (ok(a, c, b)) out.push(a, c, b);
        if (ok(b, c, d)) out.push(b, c, d);
      }
    }
    return new Uint32Array(out);
  }

  function updateObject() {
    const view = state.view, R = state.current;
    if (!view || !view.cloud) return;
    const mode = $("view3d-mode").value, cloud = view.cloud;
    if (view.object) { view.scene.remove(view.object); view.object.material.dispose(); }
    view.geometry.setIndex(new THREE.BufferAttribute(cloudIndex(R, cloud, mode), 1));
    let object;
    if (mode === "points") {
      const P = R.desc.projection;
      const size = P.kind === "pinhole" ? 1.5 * ((cloud.lo + cloud.hi) / 2) / P.f * (R.desc.size.width / cloud.w3) : 2;
      object = new THREE.Points(view.geometry, new THREE.PointsMaterial(
        { size, vertexColors: true, sizeAttenuation: P.kind === "pinhole" }));
    } else {
      object = new THREE.Mesh(view.geometry, new THREE.MeshBasicMaterial(
        { vertexColors: true, side: THREE.DoubleSide }));
    }
    object.scale.z = R.desc.projection.kind === "pinhole" ? 1 : Number($("relief").value);
    view.object = object;
    view.scene.add(object);
    view.render();
  }

  function placeCamera(oblique) {  // the photo's own viewpoint, or turned right and up about the median depth
    const view = state.view, R = state.current, P = R.desc.projection, cloud = view.cloud;
    const W = R.desc.size.width, H = R.desc.size.height, aspect = view.canvas.clientWidth / view.canvas.clientHeight;
    let camera, target, eye;
    if (P.kind === "pinhole") {
      const fov = 2 * Math.atan((H / 2) / P.f) * 180 / Math.PI;
      camera = view.camera && view.camera.isPerspectiveCamera ? view.camera : new THREE.PerspectiveCamera();
      camera.fov = Math.min(120, 1.15 * fov); camera.near = cloud.lo * 0.01; camera.far = cloud.hi * 100;
      target = new THREE.Vector3(0, 0, -cloud.median);
      eye = new THREE.Vector3(0, 0, 0);
    } else {
      const half = 0.6 * Math.max(H, W / Math.max(aspect, 1e-3));
      camera = view.camera && view.camera.isOrthographicCamera ? view.camera : new THREE.OrthographicCamera();
      camera.top = half; camera.bottom = -half; camera.near = 0.1; camera.far = 20 * Math.max(W, H);
      camera.zoom = 1;
      target = new THREE.Vector3(0, 0, 0);
      eye = new THREE.Vector3(0, 0, 4 * Math.max(W, H));
    }
    if (oblique) {
      const offset = eye.clone().sub(target);
      if (offset.length() === 0) offset.set(0, 0, 1e-6);
      const turn = P.kind === "pinhole" ? Math.PI / 15 : Math.PI / 9;  // a perspective view turns less: 12 or 20 degrees
      offset.applyAxisAngle(new THREE.Vector3(0, 1, 0), turn).applyAxisAngle(new THREE.Vector3(1, 0, 0), -turn / 2);
      eye = target.clone().add(offset);
    }
    if (P.kind === "pinhole" && eye.distanceTo(target) < 1e-9) eye.set(0, 0, 0);
    camera.position.copy(eye);
    camera.up.set(0, 1, 0);
    if (view.camera !== camera) {
      if (view.controls) view.controls.dispose();
      view.camera = camera;
      view.controls = new THREE.OrbitControls(camera, view.canvas);
      view.controls.addEventListener("change", view.render);
    }
    view.controls.target.copy(target);
    resizeView(view);
    view.controls.update();
    view.render();
  }

  function show3d(R, keepCamera) {
    const view = state.view;
    if (!view) return;
    const P = R.desc.projection;
    $("projection-line").textContent = P.line;
    $("relief-control").hidden = P.kind === "pinhole";
    if (view.geometry) view.geometry.dispose();
    view.cloud = buildCloud(R);
    view.geometry = makeGeometry(R, view.cloud);
    updateObject();
    const sameKind = view.camera && (P.kind === "pinhole") === Boolean(view.camera.isPerspectiveCamera);
    if (!keepCamera || !sameKind) placeCamera(true);
  }

  // --- switching results ----------------------------------------------------------------------------------------
  async function select(k) {
    document.body.dataset.ready = "0";
    const previous = state.current;
    const R = await loadResult(k);
    state.index = k; state.current = R;
    const d = R.desc, size = d.size;
    const shown = d.grid.width === size.width ? "" : `, shown at ${d.grid.width} x ${d.grid.height}`;
    $("result-info").textContent = `${d.method} · ${d.unit} · ${size.width} x ${size.height}${shown}`;
    $("summary-json").textContent = JSON.stringify(d.summary, null, 2);
    document.title = `${d.name} · focalstack`;
    $("result-name").textContent = d.name;
    drawColorbar(d);
    drawMaps();
    showSlices(d);
    const samePlace = previous && previous.w === R.w && previous.h === R.h;
    if (state.pixel && samePlace) showPixel(...state.pixel);
    show3d(R, samePlace);
    document.body.dataset.result = String(k);
    document.body.dataset.ready = "1";
  }

  function fail(error) {
    $("error").hidden = false;
    $("error").textContent = `The viewer failed: ${error.message || error}`;
    console.error(error);
  }

  // --- wiring -----------------------------------------------------------------------------------------------------
  function init() {
    const chooser = $("result-select");
    DATA.results.forEach((r, k) => chooser.add(new Option(`${r.name} (${r.method})`, String(k))));
    $("result-choice").hidden = DATA.results.length < 2;
    chooser.addEventListener("change", () => select(Number(chooser.value)).catch(fail));
    for (const canvas of document.querySelectorAll("canvas.map")) canvas.addEventListener("mousemove", onHover);
    $("confidence-threshold").addEventListener("input", (event) => {
      state.threshold = Number(event.target.value);
      $("confidence-threshold-value").textContent = state.threshold.toFixed(2);
      drawMaps();
      if (state.pixel) showPixel(...state.pixel);
      updateObject();
    });
    $("slice-index").addEventListener("input", (event) => showSlice(state.current.desc, Number(event.target.value)));
    $("view3d-mode").addEventListener("change", updateObject);
    $("view3d-color").addEventListener("change", () => {
      const view = state.view;
      if (!view || !view.cloud) return;
      view.geometry.setAttribute("color", view.cloud.colors[$("view3d-color").value]);
      view.render();
    });
    $("relief").addEventListener("input", () => {
      if (state.view && state.view.object) { state.view.object.scale.z = Number($("relief").value); state.view.render(); }
    });
    $("view3d-reset").addEventListener("click", () => placeCamera(false));
    state.view = makeView();
    select(0).then(() => { api.ready = true; }).catch(fail);
  }

  // For tests and scripts: the point of vertex k in depth_to_point_cloud's frame and the result's pixel it samples.
  api.cloudPoint = (k) => {
    const cloud = state.view && state.view.cloud;
    if (!cloud || !cloud.valid[k]) return null;
    return { point: Array.from(cloud.points.slice(3 * k, 3 * k + 3)), row: cloud.pixels[2 * k], col: cloud.pixels[2 * k + 1] };
  };
  api.stats = () => {
    const view = state.view;
    return {
      result: state.index, masked: state.masked, vertices: view && view.cloud ? view.cloud.n : 0,
      drawn: view && view.geometry && view.geometry.index ? view.geometry.index.count : 0,
      camera: view && view.camera ? (view.camera.isPerspectiveCamera ? "perspective" : "orthographic") : null,
      webgl: Boolean(view),
    };
  };
  api.showPixel = showPixel;
  api.select = (k) => select(k);

  init();
})();
