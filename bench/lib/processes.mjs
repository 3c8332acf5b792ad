// Child processes and teardown for one benchmark run: everything started is stopped at the end, even on failure or
// Ctrl-C, in the reverse order of its start.
import { execFile, spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

const teardownSteps = [];

/** Registers `step` (an async function) to run at teardown; returns a function that runs it early, once. */
export function onTeardown(step) {
  let done = false;
  const once = async () => {
    if (done) return;
    done = true;
    await step();
  };
  teardownSteps.push(once);
  return once;
}

/** Runs every registered teardown step, newest first; a failing step is reported and the others still run. */
export async function teardown() {
  while (teardownSteps.length > 0) {
    const step = teardownSteps.pop();
    try {
      await step();
    } catch (error) {
      process.stderr.write(`teardown: ${error.message}\n`);
    }
  }
}

/**
 * Starts a long-running process with its output appended to `logFile`. It gets its own process group, so that
 * stopping it also stops its children (gunicorn's workers), and a Ctrl-C in the terminal reaches only this script,
 * which then stops everything in order. Returns { name, pid, child, exited } where `exited` resolves to
 * { code, signal, at } (at: performance.now() of the exit).
 */
export function startProcess(name, command, args, { cwd, env, logFile }) {
  const log = fs.openSync(logFile, 'a');
  const child = spawn(command, args, { cwd, env, stdio: ['ignore', log, log], detached: true });
  fs.closeSync(log);
  const exited = new Promise((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal, at: performance.now() }));
  });
  const started = { name, pid: child.pid, child, exited, logFile };
  started.stop = onTeardown(() => stopProcess(started));
  return started;
}

/** SIGTERM to the process group, then SIGKILL if it is still there after `graceMs`. */
export async function stopProcess({ child, exited }, graceMs = 10_000) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  signalGroup(child.pid, 'SIGTERM');
  const stopped = await Promise.race([exited.then(() => true), sleep(graceMs).then(() => false)]);
  if (!stopped) {
    signalGroup(child.pid, 'SIGKILL');
    await exited;
  }
  // The leader is gone; a straggler of its group (a gunicorn worker) gets the same end.
  signalGroup(child.pid, 'SIGKILL');
}

function signalGroup(pid, signal) {
  try {
    process.kill(-pid, signal);
  } catch (error) {
    if (error.code !== 'ESRCH') throw error;
  }
}

/** Runs a short command to completion and returns its stdout; rejects with its stderr when it fails. */
export function runCommand(command, args, { cwd, env } = {}) {
  return new Promise((resolve, reject) => {
    execFile(command, args, { cwd, env, maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) => {
      if (error) reject(new Error(`${command} ${args.join(' ')} failed: ${stderr.trim() || error.message}`));
      else resolve(stdout);
    });
  });
}

/** A TCP port that is free on loopback right now (nothing listens there, so it also serves as a closed port). */
export function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/** Polls `check` (async, returns truthy when ready) every 50 ms until it is truthy, or throws after `timeoutMs`. */
export async function waitFor(what, check, timeoutMs = 30_000) {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    try {
      const value = await check();
      if (value) return value;
    } catch (error) {
      if (error.fatal) throw error; // it will never be ready
    }
    if (performance.now() > deadline) throw new Error(`${what} was not ready within ${timeoutMs / 1000} s`);
    await sleep(50);
  }
}

/** CPU seconds (user + system) a running process has used so far, from /proc. */
export async function cpuSecondsOf(pid) {
  return ticksToSeconds(cpuTicksOf(procStat(pid)));
}

/**
 * CPU seconds the live processes of the process group `pgid` have used so far: a server started by startProcess (the
 * group's leader) with its workers, such as gunicorn's.
 */
export async function cpuSecondsOfGroup(pgid) {
  let ticks = 0;
  for (const pid of fs.readdirSync('/proc').filter((name) => /^\d+$/.test(name))) {
    try {
      const stat = procStat(pid);
      if (Number(stat[2]) === pgid) ticks += cpuTicksOf(stat);
    } catch {
      // gone since the listing
    }
  }
  return ticksToSeconds(ticks);
}

// The fields of /proc/PID/stat after "pid (comm) ": state is field 3, pgrp field 5, utime and stime fields 14 and 15.
function procStat(pid) {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
}

const cpuTicksOf = (stat) => Number(stat[11]) + Number(stat[12]);

async function ticksToSeconds(ticks) {
  return ticks / Number((await runCommand('getconf', ['CLK_TCK'])).trim());
}

/**
 * How the established connections to loopback `port` are spread over the processes that hold them, largest first
 * (e.g. [47, 17] for two gunicorn workers). From `ss`; null when it is not available.
 */
export async function connectionsPerProcess(port) {
  try {
    const listing = await runCommand('ss', ['-tnpH', 'state', 'established', `( sport = :${port} )`]);
    const counts = new Map();
    for (const [, pid] of listing.matchAll(/pid=(\d+)/g)) counts.set(pid, (counts.get(pid) ?? 0) + 1);
    return [...counts.values()].sort((a, b) => b - a);
  } catch {
    return null;
  }
}
