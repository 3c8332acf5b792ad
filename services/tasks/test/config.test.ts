// loadConfig: defaults, and a refusal naming each bad variable without echoing its value.
import { expect } from 'chai';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ConfigError, loadConfig, type Config } from '../src/config.js';
import { callersFile, WRITER, WRITER_KEY } from './support/callers.js';

const API_KEYS = callersFile([WRITER]);
const valid = { MONGODB_URI: 'mongodb://127.0.0.1:27017/tasks', API_KEYS };

/** The settings but the callers, which are checked by what they do. */
function settingsOf({ callers, ...settings }: Config): Omit<Config, 'callers'> {
  expect(callers.find(WRITER_KEY)).to.deep.equal({ id: WRITER.id, access: WRITER.access });
  return settings;
}

function problemsOf(env: NodeJS.ProcessEnv): string[] {
  try {
    loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  expect.fail('loadConfig accepted a bad environment');
}

describe('config', () => {
  it('applies the defaults', () => {
    expect(settingsOf(loadConfig(valid))).to.deep.equal({
      port: 8080,
      host: undefined,
      mongodbUri: valid.MONGODB_URI,
      logLevel: 'info',
      logseneToken: undefined,
      logseneUrl: undefined,
    });
  });

  it('reads every variable', () => {
    const config = loadConfig({
      PORT: '9000',
      HOST: '127.0.0.1',
      MONGODB_URI: 'mongodb+srv://user:pw@cluster0.example.net/tasks?retryWrites=true',
      LOG_LEVEL: 'debug',
      LOGSENE_TOKEN: 'abc-123',
      LOGSENE_URL: 'https://logsene-receiver.eu.sematext.com/_bulk',
      API_KEYS,
    });
    expect(settingsOf(config)).to.deep.equal({
      port: 9000,
      host: '127.0.0.1',
      mongodbUri: 'mongodb+srv://user:pw@cluster0.example.net/tasks?retryWrites=true',
      logLevel: 'debug',
      logseneToken: 'abc-123',
      logseneUrl: 'https://logsene-receiver.eu.sematext.com/_bulk',
    });
  });

  it('treats empty optional variables as unset', () => {
    const config = loadConfig({ ...valid, PORT: '', HOST: '', LOG_LEVEL: '', LOGSENE_TOKEN: '', LOGSENE_URL: '' });
    expect(config.port).to.equal(8080);
    expect(config.host).to.equal(undefined);
    expect(config.logLevel).to.equal('info');
    expect(config.logseneToken).to.equal(undefined);
    expect(config.logseneUrl).to.equal(undefined);
  });

  const refused: { name: string; env: NodeJS.ProcessEnv; variable: string; says: string }[] = [
    { name: 'a missing MONGODB_URI', env: { API_KEYS }, variable: 'MONGODB_URI', says: 'is required' },
    { name: 'an empty MONGODB_URI', env: { API_KEYS, MONGODB_URI: '' }, variable: 'MONGODB_URI', says: 'is required' },
    { name: 'a MONGODB_URI of another scheme', env: { API_KEYS, MONGODB_URI: 'postgres://u:hunter2@db/x' }, variable: 'MONGODB_URI', says: 'mongodb://' },
    { name: 'a MONGODB_URI without a host', env: { API_KEYS, MONGODB_URI: 'mongodb://' }, variable: 'MONGODB_URI', says: 'mongodb://' },
    { name: 'a PORT that is not a number', env: { ...valid, PORT: 'http' }, variable: 'PORT', says: 'whole number' },
    { name: 'a PORT out of range', env: { ...valid, PORT: '70000' }, variable: 'PORT', says: 'between 1 and 65535' },
    { name: 'PORT 0', env: { ...valid, PORT: '0' }, variable: 'PORT', says: 'between 1 and 65535' },
    { name: 'a HOST that is a name', env: { ...valid, HOST: 'localhost' }, variable: 'HOST', says: 'IP address' },
    { name: 'an unknown LOG_LEVEL', env: { ...valid, LOG_LEVEL: 'loud' }, variable: 'LOG_LEVEL', says: 'one of error, warn, info' },
    { name: 'a LOGSENE_URL that is no URL', env: { ...valid, LOGSENE_URL: 'receiver' }, variable: 'LOGSENE_URL', says: 'http:// or https://' },
    { name: 'a LOGSENE_URL of another scheme', env: { ...valid, LOGSENE_URL: 'ftp://example.com' }, variable: 'LOGSENE_URL', says: 'http:// or https://' },
    { name: 'no callers', env: { MONGODB_URI: valid.MONGODB_URI }, variable: 'API_KEYS', says: 'is required: the callers file, {"callers": {...}} (docs/api.md § Authentication), in API_KEYS or API_KEYS_FILE' },
    { name: 'an empty API_KEYS', env: { ...valid, API_KEYS: '' }, variable: 'API_KEYS', says: 'is required' },
  ];
  for (const { name, env, variable, says } of refused) {
    it(`refuses ${name}, naming ${variable}`, () => {
      const problems = problemsOf(env);
      expect(problems).to.have.lengthOf(1);
      expect(problems[0]).to.match(new RegExp(`^${variable} `)).and.include(says);
    });
  }

  it('lists every bad variable at once', () => {
    const problems = problemsOf({ PORT: 'x', LOG_LEVEL: 'loud' });
    expect(problems.map((problem) => problem.split(' ')[0])).to.have.members(['PORT', 'MONGODB_URI', 'LOG_LEVEL', 'API_KEYS']);
  });

  it('never repeats a value, which may be a secret', () => {
    const error = (() => {
      try {
        loadConfig({ API_KEYS, MONGODB_URI: 'mongo://admin:hunter2@db.example.net/tasks', LOGSENE_URL: 'not a url with s3cr3t' });
      } catch (caught) {
        return caught as Error;
      }
      return expect.fail('loadConfig accepted a bad environment');
    })();
    expect(error.message).to.include('MONGODB_URI').and.include('LOGSENE_URL');
    expect(error.message).not.to.include('hunter2');
    expect(error.message).not.to.include('s3cr3t');
  });

  describe('secrets from files (NAME_FILE)', () => {
    const uri = 'mongodb://admin:file-s3cret@db.example.net/tasks';
    let dir: string;
    /** Writes `content` to a new file and returns its path. */
    const file = (name: string, content: string): string => {
      const where = path.join(dir, name);
      writeFileSync(where, content);
      return where;
    };
    const problemsMentioning = (env: NodeJS.ProcessEnv): string[] => {
      const problems = problemsOf(env);
      expect(problems.join('\n')).not.to.include('file-s3cret').and.not.to.include('tok-s3cret');
      return problems;
    };

    before(() => {
      dir = mkdtempSync(path.join(tmpdir(), 'tasks-config-'));
    });

    after(() => {
      rmSync(dir, { recursive: true, force: true });
    });

    it('reads MONGODB_URI_FILE and LOGSENE_TOKEN_FILE, dropping a trailing newline', () => {
      const config = loadConfig({ API_KEYS, MONGODB_URI_FILE: file('uri', `${uri}\n`), LOGSENE_TOKEN_FILE: file('token', 'tok-s3cret') });
      expect(config).to.include({ mongodbUri: uri, logseneToken: 'tok-s3cret' });
    });

    it('drops the surrounding whitespace, as for the variable itself', () => {
      expect(loadConfig({ ...valid, LOGSENE_TOKEN_FILE: file('two-newlines', ' tok\r\n\n') }).logseneToken).to.equal('tok');
    });

    it('takes an empty NAME_FILE for unset, as an empty NAME', () => {
      expect(loadConfig({ ...valid, LOGSENE_TOKEN_FILE: '' }).logseneToken).to.equal(undefined);
    });

    it('refuses NAME and NAME_FILE both set, naming both', () => {
      const problems = problemsMentioning({ API_KEYS, MONGODB_URI: uri, MONGODB_URI_FILE: file('both', uri) });
      expect(problems).to.deep.equal(['MONGODB_URI_FILE and MONGODB_URI are both set: set only one of them']);
    });

    it('refuses a file that cannot be read, naming the variable', () => {
      expect(problemsMentioning({ API_KEYS, MONGODB_URI_FILE: path.join(dir, 'missing') })).to.deep.equal(['MONGODB_URI_FILE names a file that cannot be read (ENOENT)']);
      expect(problemsMentioning({ ...valid, LOGSENE_TOKEN_FILE: dir })).to.deep.equal(['LOGSENE_TOKEN_FILE names a file that cannot be read (EISDIR)']);
    });

    it('reads the callers from API_KEYS_FILE', () => {
      const config = loadConfig({ MONGODB_URI: valid.MONGODB_URI, API_KEYS_FILE: file('callers.json', `${API_KEYS}\n`) });
      expect(config.callers.find(WRITER_KEY)).to.deep.equal({ id: WRITER.id, access: WRITER.access });
    });

    it('names API_KEYS_FILE for a problem of the callers file, never a digest', () => {
      const digest = (JSON.parse(API_KEYS) as { callers: { ci: { keys: string[] } } }).callers.ci.keys[0] ?? '';
      const problems = problemsOf({ MONGODB_URI: valid.MONGODB_URI, API_KEYS_FILE: file('callers-bad.json', JSON.stringify({ callers: { ci: { access: 'all', keys: [digest] } } })) });
      expect(problems).to.deep.equal(['API_KEYS_FILE (the file\'s content) caller ci: access must be "read" or "write"']);
      expect(problems.join('\n')).not.to.include(digest);
    });

    it('refuses an empty file', () => {
      expect(problemsMentioning({ ...valid, LOGSENE_TOKEN_FILE: file('empty', '\n') })).to.deep.equal(['LOGSENE_TOKEN_FILE names an empty file']);
    });

    it('checks the file content as it checks the variable, naming NAME_FILE and never the content', () => {
      const problems = problemsMentioning({ API_KEYS, MONGODB_URI_FILE: file('bad-uri', 'postgres://u:file-s3cret@db/x') });
      expect(problems).to.have.lengthOf(1);
      expect(problems[0]).to.match(/^MONGODB_URI_FILE /).and.include('mongodb://');
    });

    it('lists file problems together with the others', () => {
      const problems = problemsMentioning({ API_KEYS, MONGODB_URI_FILE: path.join(dir, 'missing'), PORT: 'x', LOGSENE_TOKEN: 't', LOGSENE_TOKEN_FILE: file('t', 't') });
      expect(problems.map((problem) => problem.split(' ')[0])).to.have.members(['MONGODB_URI_FILE', 'LOGSENE_TOKEN_FILE', 'PORT']);
    });
  });
});

