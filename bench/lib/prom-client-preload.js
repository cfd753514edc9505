// bench/startup.js: what an app using prom-client runs first.
'use strict';
require('prom-client').collectDefaultMetrics();
