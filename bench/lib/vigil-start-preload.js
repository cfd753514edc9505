// bench/memory.js and bench/startup.js: vigil started from code (`require('@vigil/node').start()`
// as the app's first line) instead of the register entry, i.e. without the ESM loader hook.
'use strict';
require('@vigil/node').start();
