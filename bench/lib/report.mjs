// Turns the results into one table per section. The tables are Markdown, so they read well in a terminal and paste
// as they are into the README's "Performance" section.

export function renderReport(results) {
  const services = Object.entries(results.services);
  const { logsene, papertrail } = results.logReceivers;
  const sections = [
    `Settings: ${results.settings.connections} connections × ${results.settings.duration} s per run, ` +
      `${results.settings.warmup} s warm-up; ${results.machine.cpus} CPUs (${results.machine.cpuModel}), ` +
      `the tasks service on Node ${results.machine.tasksNode}, FerretDB on ${results.settings.ferretdb}. ` +
      `Log receivers: the Logsene stand-in got ${logsene.lines} lines (${logsene.cpuSeconds.toFixed(1)} CPU s), ` +
      `the Papertrail stand-in ${papertrail.lines} lines (${papertrail.cpuSeconds.toFixed(1)} CPU s).`,
    loadTable(services),
    logSinkTable(services),
    databaseCrashTable(services),
    sigtermTable(services),
  ];
  return sections.filter(Boolean).join('\n\n') + '\n';
}

function loadTable(services) {
  const rows = [];
  for (const [name, result] of services) {
    if (result.load) rows.push([name, result.stack, ...loadFigures(result.load), spread(result.load)]);
    if (result.baseline) rows.push([name, `baseline: ${result.baselineStack}`, ...loadFigures(result.baseline), spread(result.baseline)]);
    if (result.ratio) rows.push([name, '**service / baseline**', times(result.ratio.rps), '', times(result.ratio.p99), '', '']);
  }
  return section(
    'Normal load: mixed workload (70% reads, 30% writes)',
    ['service', 'server', 'req/s', 'p50 ms', 'p99 ms', 'errors', 'connections per process'],
    rows,
  );
}

function logSinkTable(services) {
  const rows = services
    .filter(([, result]) => result.logSinkDown)
    .map(([name, result]) => {
      const down = result.logSinkDown;
      return [name, down.sink, ...loadFigures(down), spread(down), down.p99VsNormal === null ? 'n/a' : times(down.p99VsNormal)];
    });
  return section(
    'Log receiver unreachable',
    ['service', 'log sink', 'req/s', 'p50 ms', 'p99 ms', 'errors', 'connections per process', 'p99 / normal p99'],
    rows,
  );
}

function databaseCrashTable(services) {
  const rows = services
    .filter(([, result]) => result.databaseCrash)
    .map(([name, result]) => {
      const crash = result.databaseCrash;
      return [
        name,
        crash.database,
        seconds(crash.downForSeconds),
        crash.errorsDuringOutage,
        Object.entries(crash.failuresByStatus).map(([status, count]) => `${status}: ${count}`).join(', ') || 'none',
        seconds(crash.first2xxAfterRestartSeconds),
        seconds(crash.lastErrorAfterRestartSeconds),
        crash.acknowledgedWrites,
        `**${crash.acknowledgedWritesLost}**`,
      ];
    });
  return section(
    'Database killed (kill -9) mid-load, restarted a few seconds later',
    ['service', 'database', 'down s', 'errors in outage', 'errors by status', 'first 2xx after restart s', 'last error after restart s', 'acknowledged writes', 'acknowledged writes lost'],
    rows,
  );
}

function sigtermTable(services) {
  const rows = services
    .filter(([, result]) => result.sigterm)
    .map(([name, result]) => {
      const term = result.sigterm;
      return [
        name,
        term.signalled,
        seconds(term.exitSeconds),
        term.exitCode,
        term.answeredAfterSigterm,
        `**${term.inFlightFailed}**`,
        term.refused,
        `${term.closedUnread} (${term.tally.closedUnreadReused} keep-alive, ${term.tally.closedUnreadFresh} new)`,
        `${term.unansweredWritesApplied} of ${term.unansweredWrites}`,
        term.abortedInServerLog,
      ];
    });
  return section(
    'SIGTERM under load',
    ['service', 'SIGTERM to', 'exit s', 'exit code', 'answered after SIGTERM', 'in-flight failed', 'refused', 'closed unread', 'unanswered writes applied', 'aborted in server log'],
    rows,
  );
}

function loadFigures(figures) {
  return [Math.round(figures.rps), ms(figures.p50), ms(figures.p99), figures.errors];
}

function spread(figures) {
  return figures.connectionsPerProcess ? figures.connectionsPerProcess.join(' + ') : 'n/a';
}

function section(title, header, rows) {
  if (rows.length === 0) return '';
  const cells = [header, ...rows].map((row) => row.map(String));
  const widths = header.map((_, column) => Math.max(3, ...cells.map((row) => row[column].length)));
  const line = (row) => `| ${row.map((cell, column) => cell.padEnd(widths[column])).join(' | ')} |`;
  const rule = `| ${widths.map((width) => '-'.repeat(width)).join(' | ')} |`;
  return [`### ${title}`, '', line(cells[0]), rule, ...cells.slice(1).map(line)].join('\n');
}

function ms(value) {
  return value >= 10 ? String(Math.round(value)) : value.toFixed(1);
}

function seconds(value) {
  return value === null || value === undefined ? 'never' : value.toFixed(2);
}

function times(ratio) {
  return `${ratio.toFixed(2)}×`;
}
