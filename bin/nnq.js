#!/usr/bin/env node
// The `nnq` command: runs the compiled CLI (npm run build writes dist/).
const { existsSync } = require('node:fs');
const { join } = require('node:path');
const main = join(__dirname, '..', 'dist', 'apps', 'cli', 'src', 'main.js');
if (!existsSync(main)) {
  process.stderr.write(`nnq: ${main} is missing; run "npm run build" first\n`);
  process.exit(1);
}
require(main);
