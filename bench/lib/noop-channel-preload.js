// bench/http.js "noop-channel": subscribers that do nothing on the two channels vigil's
// HTTP instrumentation listens to — the cost of Node publishing the messages at all.
'use strict';
const dc = require('node:diagnostics_channel');
dc.subscribe('http.server.request.start', () => {});
dc.subscribe('http.server.response.finish', () => {});
