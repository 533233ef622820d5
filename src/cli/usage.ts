/** `kc-monitor --help`: in a module of its own, so that the entry can print it without loading the CLI. */
export const USAGE = `Usage: kc-monitor <command> [options]

Commands:
  status            read every cluster; print connectors, tasks and what the healer would do (changes nothing)
  once              run exactly one monitor tick, as the Azure Function does (heals per AUTO_HEAL)
  demo              run ticks against a built-in simulated Connect cluster
  alert-params      print the live clusters' connectors as the Bicep "connectors" parameter (alertShape perConnector)

Options:
  --settings FILE   read Values from this local.settings.json (default: ./local.settings.json if present)
  --out FILE        once: append rows as NDJSON to FILE instead of stdout (when LOGS_INGESTION_ENDPOINT is unset)
  --timeout SEC     give up on a Connect request after SEC seconds (default 30)
  --all             status: list RUNNING tasks too
  --wide            status, demo: never cut a table to the terminal's width
  --json            alert-params: print a JSON array (for -p connectors=@file.json) instead of a bicepparam line
  -h, --help        show this help

Settings come from the environment, then local.settings.json Values. Without AzureWebJobsStorage the restart
history and spool live in KC_MONITOR_STATE_DIR (default ~/.local/state/kc-monitor). Exit codes: 0 the tick ran,
1 internal error, 2 bad configuration or usage, 3 a cluster could not be read, 4 rows could not be shipped,
5 the restart history could not be read or written, 6 another run holds the local state.`;
