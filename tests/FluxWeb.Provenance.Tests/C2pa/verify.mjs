// Independent check of a C2PA manifest with @contentauth/c2pa-node (pinned in tools/package.json).
// Usage: node verify.mjs <tools-folder> <file> <mime-type> [trust-anchors.pem]
// Prints one JSON object: the validation state, the validation results and the active manifest.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const [toolsFolder, file, mimeType, anchorsPath] = process.argv.slice(2);
const modulePath = join(toolsFolder, 'node_modules', '@contentauth', 'c2pa-node', 'dist', 'index.js');
const { Reader } = await import(pathToFileURL(modulePath).href);

const settings = { verify: { verify_after_reading: true, verify_trust: Boolean(anchorsPath) } };
if (anchorsPath) {
  settings.trust = { trust_anchors: await readFile(anchorsPath, 'utf8') };
}

const buffer = await readFile(file);
const reader = await Reader.fromAsset({ buffer, mimeType }, JSON.stringify(settings));
if (!reader) {
  console.log(JSON.stringify({ validation_state: 'Absent' }));
} else {
  const store = reader.json();
  console.log(JSON.stringify({
    validation_state: store.validation_state,
    validation_status: store.validation_status ?? [],
    validation_results: store.validation_results ?? null,
    active_manifest: store.active_manifest,
    manifest: store.manifests?.[store.active_manifest] ?? null,
  }));
}
