// bench/http.js "http-only": @vigil/instrumentation-http alone (lean registry, no
// MeterProvider reader, no exporter, no runtime metrics) — the per-request path by itself.
'use strict';
const { HttpServerInstrumentation } = require('@vigil/instrumentation-http');
new HttpServerInstrumentation().enable();
