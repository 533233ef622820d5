// Loads the deployed bundle as the Functions host would, with a stand-in for the worker's
// @azure/functions-core, checks the timer it registers, then runs one tick with the bundled runtime.
'use strict';
const Module = require('node:module');
const registered = [];
const core = {
  registerFunction: (metadata) => registered.push(metadata),
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
  const { loadConfig } = require('../dist/src/lib/config.js');
  const runtime = require('../dist/lib/runtime.js');
  const sim = new ConnectSimulator().add(...demoConnectors());
  const url = await sim.start();
  const rows = [];
  const sink = { target: 'memory', ship: async (stream, batch) => (rows.push(...batch), { stream, sent: batch.length, failed: 0, failures: [] }) };
  const monitor = runtime.createMonitor(loadConfig({ KAFKA_CONNECT_URL: url, AUTO_HEAL: 'dry-run' }, { requireIngestion: false }), { sink, spool: null });
  const result = await monitor.tick();
  await monitor.close();
  await sim.stop();
  if (rows.length < 10) {
    console.error('bundle check: the bundled runtime shipped', rows.length, 'rows');
    process.exit(1);
  }
  console.log(`bundle: ${main} registers kafkaConnectMonitor on %MONITOR_SCHEDULE%; dist/lib/runtime.js ran a tick: ${runtime.summarizeTick(result)}`);
})().catch((err) => {
  console.error('bundle check:', err);
  process.exit(1);
});
