#!/usr/bin/env bash
# Builds the third-party browser assets: regl-scatterplot (the map's WebGL scatter plot)
# bundled with its dependencies into one minified IIFE, plus the licence of every package
# inside the bundle; and Swagger UI's own distribution for /docs (swagger-ui-dist: its bundle,
# stylesheet, favicon, licences and notice, copied as published). Run once when a pinned version
# changes; the output is committed, so neither CI nor a running server needs npm or a CDN.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=src/embedhub/web/static/vendor
REGL_SCATTERPLOT=1.16.0
ESBUILD=0.28.2
SWAGGER_UI=5.35.0
SWAGGER_OUT=src/embedhub/api/static/swagger-ui

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(
    cd "$work"
    npm init -y >/dev/null
    npm install --no-audit --no-fund --silent "regl-scatterplot@$REGL_SCATTERPLOT" "esbuild@$ESBUILD" \
        "swagger-ui-dist@$SWAGGER_UI"
    printf "import createScatterplot from 'regl-scatterplot';\nwindow.createScatterplot = createScatterplot;\n" > entry.js
    node_modules/.bin/esbuild entry.js --bundle --minify --format=iife --target=es2020 \
        --legal-comments=none --metafile=meta.json --outfile=bundle.js
)
mkdir -p "$OUT"
cp "$work/bundle.js" "$OUT/regl-scatterplot.min.js"
# One file with the licence of each package in the bundle: those esbuild read (its metafile)
# and regl-scatterplot's dependencies, which its own dist file already inlines.
node - "$work" > "$OUT/LICENSES.txt" <<'JS'
const fs = require('fs'), path = require('path');
const work = process.argv[2];
const meta = JSON.parse(fs.readFileSync(path.join(work, 'meta.json')));
const pkgs = new Set();
for (const input of Object.keys(meta.inputs)) {
  const m = input.match(/node_modules\/((?:@[^/]+\/)?[^/]+)\//);
  if (m) pkgs.add(m[1]);
}
const deps = (name) => Object.keys(JSON.parse(fs.readFileSync(
  path.join(work, 'node_modules', name, 'package.json'))).dependencies || {});
const todo = [...pkgs];
while (todo.length) for (const d of deps(todo.pop())) if (!pkgs.has(d)) { pkgs.add(d); todo.push(d); }
for (const name of [...pkgs].sort()) {
  const dir = path.join(work, 'node_modules', name);
  const pkg = JSON.parse(fs.readFileSync(path.join(dir, 'package.json')));
  const file = fs.readdirSync(dir).find((f) => /^licen[cs]e/i.test(f));
  if (!file) throw new Error(`no licence file in ${name}`);
  console.log(`=== ${name}@${pkg.version} (${pkg.license}) ===\n`);
  console.log(fs.readFileSync(path.join(dir, file), 'utf8').trim() + '\n');
}
JS
mkdir -p "$SWAGGER_OUT"
for f in swagger-ui-bundle.js swagger-ui-bundle.js.LICENSE.txt swagger-ui.css favicon-32x32.png LICENSE NOTICE; do
    cp "$work/node_modules/swagger-ui-dist/$f" "$SWAGGER_OUT/$f"
done
echo "wrote $OUT/regl-scatterplot.min.js, $OUT/LICENSES.txt and $SWAGGER_OUT"
