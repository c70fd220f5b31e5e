// Builds the app into OUTDIR: app.js (src/main.js and its packages, bundled
// and minified by esbuild), index.html, app.css, sw.js, the manifest and
// the icon as they are.  Run by
// meson (node/web/meson.build) when node_modules is there; offline once the
// packages are cached.   usage: node build.mjs OUTDIR
import { copyFileSync, mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const here = dirname(fileURLToPath(import.meta.url));
const out = process.argv[2];
if (!out) {
  console.error("usage: node build.mjs OUTDIR");
  process.exit(2);
}
mkdirSync(out, { recursive: true });
await build({
  entryPoints: [join(here, "src", "main.js")],
  outfile: join(out, "app.js"),
  bundle: true,
  minify: true,
  format: "iife",
  // BigInt (noble's curves) is ES2020; phones a few years old have it
  target: "es2020",
  legalComments: "none",
  logLevel: "warning",
});
// the service worker stays a file of its own: it must be served from /
for (const f of ["index.html", "app.css", "sw.js", "manifest.webmanifest", "icon.svg"]) copyFileSync(join(here, "src", f), join(out, f));
