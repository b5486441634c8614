import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { pathToFileURL } from 'node:url';
import { loadLuaScripts, parseLuaScriptName } from './lua-scripts.js';

// Names and files only; defining and calling scripts on a real Redis (and SCRIPT FLUSH under
// a live client) is test/integration/lua-scripts.test.ts.

const work = mkdtempSync(join(tmpdir(), 'quad-lua-scripts-'));
after(() => rmSync(work, { recursive: true, force: true }));

/** A module URL in `folder` under `work`, with `files` written to `scriptFolder`. */
function moduleIn(folder: string, scriptFolder: string, files: Record<string, string>): string {
  mkdirSync(join(work, folder), { recursive: true });
  mkdirSync(join(work, scriptFolder), { recursive: true });
  for (const [file, lua] of Object.entries(files))
    writeFileSync(join(work, scriptFolder, file), lua);
  return pathToFileURL(join(work, folder, 'module.js')).href;
}

describe('Lua script names', () => {
  it('take the number of KEYS from the name, and a name without it means a variable count', () => {
    assert.deepEqual(parseLuaScriptName('gcra-1.lua'), { command: 'lua:gcra', numberOfKeys: 1 });
    assert.deepEqual(parseLuaScriptName('membership-leave-3.lua'), {
      command: 'lua:membership-leave',
      numberOfKeys: 3,
    });
    assert.deepEqual(parseLuaScriptName('sliding-window-log-1.lua'), {
      command: 'lua:sliding-window-log',
      numberOfKeys: 1,
    });
    assert.deepEqual(parseLuaScriptName('membership-status.lua'), {
      command: 'lua:membership-status',
      numberOfKeys: undefined,
    });
  });

  it('refuse anything but a kebab-case .lua file', () => {
    for (const file of ['Gcra-1.lua', 'gcra-1.txt', 'gcra_1.lua', '-1.lua', '../gcra-1.lua']) {
      assert.throws(() => parseLuaScriptName(file), /expected a kebab-case name-N\.lua/, file);
    }
  });
});

describe('loadLuaScripts', () => {
  it('reads the scripts beside the module, each with its key count', () => {
    const url = moduleIn('lib/beside', 'lib/beside', {
      'swap-2.lua': "return redis.call('GET', KEYS[1])",
    });
    assert.deepEqual(loadLuaScripts(url, { swap: 'swap-2.lua' }), {
      swap: {
        file: 'swap-2.lua',
        command: 'lua:swap',
        numberOfKeys: 2,
        lua: "return redis.call('GET', KEYS[1])",
      },
    });
  });

  it('finds them in lib/<capability>/ of a parent when a build runs without their copies', () => {
    const url = moduleIn('dist/lib/built', 'lib/built', { 'count-1.lua': 'return 1' });
    assert.equal(loadLuaScripts(url, { count: 'count-1.lua' }).count.lua, 'return 1');
  });

  it('fails at once, naming the file, when one is missing', () => {
    const url = moduleIn('lib/missing', 'lib/missing', {});
    assert.throws(
      () => loadLuaScripts(url, { absent: 'absent-1.lua' }),
      /absent-1\.lua not found beside .* or in lib\/missing\//,
    );
  });
});
