// The Node options `npm start` runs the gateway with: the words of package.json's start script between
// `node` and the CLI's path (e.g. --max-semi-space-size=32). The benchmarks and the load test start the
// gateway with them, so that they measure it as it is started.
import { readFileSync } from 'node:fs';

/** @param {string} root the repository's directory @returns {string[]} */
export function startFlags(root) {
  const { scripts } = JSON.parse(readFileSync(`${root}/package.json`, 'utf8'));
  const words = scripts.start.split(/\s+/);
  const cli = words.indexOf('dist/cli.js');
  if (words[0] !== 'node' || cli < 0) throw new Error(`unexpected start script: ${scripts.start}`);
  return words.slice(1, cli);
}
