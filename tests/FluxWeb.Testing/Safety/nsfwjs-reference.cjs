// The reference the image classifier is checked against: nsfwjs itself, in Node, on TensorFlow.js's
// pure-JS CPU backend. Usage: node nsfwjs-reference.cjs <tools folder> <pictures.json>
// pictures.json: [{"name", "file" (raw RGB bytes, row-major), "width", "height"}]. Prints one JSON line
// {"<name>": [p0 … p4], …} with nsfwjs's probabilities in its class order (NSFW_CLASSES).
const fs = require("fs");
const path = require("path");
const { createRequire } = require("module");

async function main() {
  const [tools, list] = process.argv.slice(2);
  const requireTools = createRequire(path.join(path.resolve(tools), "package.json"));
  const tf = requireTools("@tensorflow/tfjs");
  const nsfwjs = requireTools("nsfwjs");
  await tf.setBackend("cpu");
  await tf.ready();
  const model = await nsfwjs.load("MobileNetV2");
  const result = {};
  for (const picture of JSON.parse(fs.readFileSync(list, "utf8"))) {
    const bytes = fs.readFileSync(picture.file);
    const image = tf.tensor3d(Int32Array.from(bytes), [picture.height, picture.width, 3], "int32");
    const probabilities = model.infer(image);
    result[picture.name] = Array.from(await probabilities.data());
    probabilities.dispose();
    image.dispose();
  }
  process.stdout.write(JSON.stringify({ backend: tf.getBackend(), classes: nsfwjs.NSFW_CLASSES ?? null, probabilities: result }) + "\n");
}

main().catch(error => {
  console.error(error && error.stack || String(error));
  process.exit(1);
});
