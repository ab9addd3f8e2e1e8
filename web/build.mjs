// Copies the front-end dependencies the pages load into dist/vendor, which
// the Go binary embeds. Nothing is bundled from a CDN at run time: a
// command centre may have no internet.
import { copyFileSync, mkdirSync } from "node:fs";

const files = [
  ["node_modules/maplibre-gl/dist/maplibre-gl.js", "dist/vendor/maplibre-gl.js"],
  ["node_modules/maplibre-gl/dist/maplibre-gl.css", "dist/vendor/maplibre-gl.css"],
  ["node_modules/maplibre-gl/LICENSE.txt", "dist/vendor/maplibre-gl.LICENSE.txt"],
];
mkdirSync("dist/vendor", { recursive: true });
for (const [from, to] of files) {
  copyFileSync(from, to);
  console.log(`web: ${from} -> ${to}`);
}
