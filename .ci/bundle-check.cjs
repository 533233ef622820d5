// Loads the deployed bundle as the Functions host would, with a stand-in for the worker's
// @azure/functions-core, checks the timer it registers, then runs one tick with the bundled runtime.
'use strict';
const Module = require('node:module');
const registered = [];
const handlers = [];
const core = {
  registerFunction: (metadata, handler) => (registered.push(metadata), handlers.push(handler)),
  setProgrammingModel: () => {},
  registerHook: () => ({ dispose: () => {} }),
  log: () => {},
};
const resolve = Module._resolveFilename;
Module._resolveFilename = function (request, ...rest) {
  return request === '@azure/functions-core' ? '@azure/functions-core' : resolve.call(this, request, ...rest);
};
require.cache['@azure/functions-core'] = { id: '@azure/functions-core', filename: '@azure/functions-core', loaded: true, exports: core };

const main = require('../package.json').main.replace('*', 'monitor');
require(`../${main}`);
const timers = registered.filter((m) => m.bindings && Object.values(m.bindings).some((b) => b.type === 'timerTrigger'));
const schedule = timers[0] && Object.values(timers[0].bindings).find((b) => b.type === 'timerTrigger').schedule;
if (registered.length !== 1 || timers[0].name !== 'kafkaConnectMonitor' || schedule !== '%MONITOR_SCHEDULE%') {
  console.error('bundle check: expected one timer kafkaConnectMonitor on %MONITOR_SCHEDULE%, got', JSON.stringify(registered));
  process.exit(1);
}

(async () => {
  const { ConnectSimulator } = require('../dist/src/lib/demo/connectSimulator.js');
  const { demoConnectors } = require('../dist/src/lib/demo/scenario.js');
  const { InvocationContext } = require('@azure/functions');
  const sim = new ConnectSimulator().add(...demoConnectors());
  const url = await sim.start();
  // A managed-identity endpoint that refuses at once: rows cannot ship, and the tick still runs to its end.
  const identity = require('node:http').createServer((req, res) => res.writeHead(400, { 'content-type': 'application/json' }).end('{"error":"invalid_request"}'));
  await new Promise((resolve) => identity.listen(0, '127.0.0.1', resolve));
  // The registered handler, as the host would call it: it loads dist/lib/runtime.js on its first tick.
  Object.assign(process.env, {
    KAFKA_CONNECT_URL: url,
    LOGS_INGESTION_ENDPOINT: 'https://127.0.0.1:1',
    LOGS_DCR_IMMUTABLE_ID: 'dcr-00112233445566778899aabbccddeeff',
    AUTO_HEAL: 'off',
    IDENTITY_ENDPOINT: `http://127.0.0.1:${identity.address().port}/msi/token`,
    IDENTITY_HEADER: 'bundle-check',
  });
  const lines = [];
  const context = new InvocationContext({ functionName: 'kafkaConnectMonitor', invocationId: 'bundle-check', logHandler: (level, ...args) => lines.push(`${level}: ${args.join(' ')}`) });
  await handlers[0]({ isPastDue: false }, context);
  await sim.stop();
  identity.close();
  const summary = lines.find((l) => l.startsWith('information: tick '));
  if (!summary || !/6 connectors .*0 of \d+ rows shipped/.test(summary)) {
    console.error('bundle check: the registered handler did not run a tick:', lines);
    process.exit(1);
  }
  console.log(`bundle: ${main} registers kafkaConnectMonitor on %MONITOR_SCHEDULE%, and its handler ran a tick with dist/lib/runtime.js:`);
  console.log(`  ${summary}`);
  process.exit(0);
})().catch((err) => {
  console.error('bundle check:', err);
  process.exit(1);
});
