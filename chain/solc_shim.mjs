#!/usr/bin/env node
// Executable shim that lets py-solc-x drive the `solc` npm package (solc-js):
// answers `--version` and `--standard-json` (input on stdin, output on stdout),
// resolving imports against the project root and node_modules.
import { createRequire } from "node:module";
import { readFileSync, existsSync } from "node:fs";
import { resolve, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const root = process.env.ETS_PROJECT_ROOT || resolve(here, "..");
const require = createRequire(join(root, "package.json"));
const solc = require("solc");

const args = process.argv.slice(2);
if (args.includes("--version")) {
  process.stdout.write(
    "solc, the solidity compiler commandline interface\nVersion: " + solc.version() + "\n",
  );
  process.exit(0);
}
if (!args.includes("--standard-json")) {
  process.stderr.write("solc shim: only --version and --standard-json are supported\n");
  process.exit(2);
}

function findImports(path) {
  const candidates = [join(root, path), join(root, "node_modules", path)];
  for (const file of candidates) {
    if (existsSync(file)) return { contents: readFileSync(file, "utf8") };
  }
  return { error: "File not found: " + path };
}

const input = readFileSync(0, "utf8");
process.stdout.write(solc.compile(input, { import: findImports }));
