// npm's install step (and `npm run build:native`): builds the native executor with node-gyp.
// Without a C++ toolchain the install still succeeds; the engine then runs every stage in
// onnxruntime and says so once (adpc info and /v1/models report why).
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const strict = process.argv.includes('--strict');

function nodeGyp() {
  // npm runs install scripts with its own node-gyp; outside npm, the one npm ships
  if (process.env.npm_config_node_gyp && existsSync(process.env.npm_config_node_gyp)) return process.env.npm_config_node_gyp;
  try {
    const npmDir = dirname(createRequire(import.meta.url).resolve('npm/package.json', { paths: [join(dirname(process.execPath), '..', 'lib', 'node_modules')] }));
    const candidate = join(npmDir, 'node_modules', 'node-gyp', 'bin', 'node-gyp.js');
    if (existsSync(candidate)) return candidate;
  } catch {
    // no npm beside this node
  }
  return null;
}

if (process.env.ADPC_NATIVE === 'off') {
  console.log('adpc-edge: native executor not built (ADPC_NATIVE=off)');
  process.exit(0);
}
const gyp = nodeGyp();
const result = gyp
  ? spawnSync(process.execPath, [gyp, 'rebuild', '--directory', join(root, 'native')], { stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8' })
  : null;
if (result && result.status === 0) {
  console.log('adpc-edge: native executor built (native/build/Release/adpc_native.node)');
  process.exit(0);
}
const hasToolchain = ['g++', 'make'].every((tool) => spawnSync('sh', ['-c', `command -v ${tool}`]).status === 0);
const why = !gyp ? 'node-gyp was not found' : (result.stderr || result.stdout).trim().split('\n').filter((l) => /error|not found/i.test(l)).slice(-3).join(' | ') || `node-gyp exited with ${result.status}`;
console.warn(`adpc-edge: the native executor was not built (${why}); every stage will run in onnxruntime. ` +
  (hasToolchain ? 'Fix the build error above and run `npm run build:native`.' : 'Install g++ and make (Debian: apt-get install -y g++ make), then run `npm run build:native`.'));
process.exit(strict ? 1 : 0);
