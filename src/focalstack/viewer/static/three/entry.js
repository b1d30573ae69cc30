// esbuild entry of the vendored bundle: all of three.js plus OrbitControls, as one global THREE (see README.md).
export * from 'three';
export { OrbitControls } from 'three/examples/jsm/controls/OrbitControls.js';
