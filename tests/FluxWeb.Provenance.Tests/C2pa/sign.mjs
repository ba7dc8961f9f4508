// Signs a file with @contentauth/c2pa-node so FluxWeb's own verifier can be checked against an independent writer.
// Usage: node sign.mjs <tools-folder> <input> <mime-type> <output> <certificate-chain.pem> <private-key.pem>
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const [toolsFolder, input, mimeType, output, chainPath, keyPath] = process.argv.slice(2);
const modulePath = join(toolsFolder, 'node_modules', '@contentauth', 'c2pa-node', 'dist', 'index.js');
const { Builder, LocalSigner } = await import(pathToFileURL(modulePath).href);

const builder = Builder.withJson({
  claim_generator_info: [{ name: 'c2pa-node cross-check', version: '0.8.0' }],
  title: 'signed by c2pa-node',
  assertions: [{
    label: 'c2pa.actions.v2',
    data: { actions: [{ action: 'c2pa.created', digitalSourceType: 'http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia' }] },
  }],
});
const signer = LocalSigner.newSigner(await readFile(chainPath), await readFile(keyPath), 'es256');
builder.sign(signer, { buffer: await readFile(input), mimeType }, { path: output });
console.log(JSON.stringify({ signed: output }));
