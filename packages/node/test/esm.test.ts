// The preload registers the ESM loader hooks only for apps that load
// modules through `import`; these are the cases Node itself tells apart.
import { expect } from 'chai';
import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { appIsEsm } from '../src/esm';

describe('appIsEsm: which apps get the ESM loader hook', () => {
  const root = mkdtempSync(join(tmpdir(), 'vigil-esm-'));
  const file = (path: string, text: string) => {
    mkdirSync(join(root, path, '..'), { recursive: true });
    writeFileSync(join(root, path), text);
    return join(root, path);
  };
  file('cjs/package.json', '{"name":"a"}');
  file('commonjs/package.json', '{"type":"commonjs"}');
  file('esm/package.json', '{"type":"module"}');
  file('broken/package.json', '{ not json');

  it('--import always gets it', () => {
    expect(appIsEsm(true, file('cjs/app.cjs', ''), [])).to.equal(true);
  });
  it('by extension: .mjs / .mts yes, .cjs / .cts no, whatever the package says', () => {
    expect(appIsEsm(false, file('cjs/a.mjs', ''), [])).to.equal(true);
    expect(appIsEsm(false, file('cjs/a.mts', ''), [])).to.equal(true);
    expect(appIsEsm(false, file('esm/a.cjs', 'import x from "y"'), [])).to.equal(false);
    expect(appIsEsm(false, file('esm/a.cts', ''), [])).to.equal(false);
  });
  it('.js follows the nearest package.json "type", also from a nested folder', () => {
    expect(appIsEsm(false, file('esm/src/deep/app.js', ''), [])).to.equal(true);
    expect(appIsEsm(false, file('commonjs/src/app.js', 'import x from "y"'), [])).to.equal(false);
  });
  it('without a "type" (or with an unreadable package.json) the entry\'s own syntax decides', () => {
    const noType = mkdtempSync(join(tmpdir(), 'vigil-esm-notype-'));
    writeFileSync(join(noType, 'esm.js'), '// a comment\nimport express from "express";\n');
    writeFileSync(join(noType, 'exp.js'), 'const x = 1;\nexport default x;\n');
    writeFileSync(join(noType, 'cjs.js'), 'const express = require("express");\n// import is a word here\n');
    expect(appIsEsm(false, join(noType, 'esm.js'), [])).to.equal(true);
    expect(appIsEsm(false, join(noType, 'exp.js'), [])).to.equal(true);
    expect(appIsEsm(false, join(noType, 'cjs.js'), [])).to.equal(false);
    expect(appIsEsm(false, file('broken/app.js', 'module.exports = 1'), [])).to.equal(false);
  });
  it('-e, -p and the REPL are CommonJS unless --input-type=module; a missing entry file is not an error', () => {
    expect(appIsEsm(false, undefined, [])).to.equal(false);
    expect(appIsEsm(false, undefined, ['--input-type=module'])).to.equal(true);
    expect(appIsEsm(false, join(root, 'cjs', 'missing.js'), [])).to.equal(false);
  });
});
