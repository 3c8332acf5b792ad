// loadConfig: defaults, and a refusal naming each bad variable without echoing its value.
import { expect } from 'chai';
import { ConfigError, loadConfig } from '../src/config.js';

const valid = { MONGODB_URI: 'mongodb://127.0.0.1:27017/tasks' };

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
    expect(loadConfig(valid)).to.deep.equal({
      port: 8080,
      mongodbUri: valid.MONGODB_URI,
      logLevel: 'info',
      logseneToken: undefined,
      logseneUrl: undefined,
    });
  });

  it('reads every variable', () => {
    const config = loadConfig({
      PORT: '9000',
      MONGODB_URI: 'mongodb+srv://user:pw@cluster0.example.net/tasks?retryWrites=true',
      LOG_LEVEL: 'debug',
      LOGSENE_TOKEN: 'abc-123',
      LOGSENE_URL: 'https://logsene-receiver.eu.sematext.com/_bulk',
    });
    expect(config).to.deep.equal({
      port: 9000,
      mongodbUri: 'mongodb+srv://user:pw@cluster0.example.net/tasks?retryWrites=true',
      logLevel: 'debug',
      logseneToken: 'abc-123',
      logseneUrl: 'https://logsene-receiver.eu.sematext.com/_bulk',
    });
  });

  it('treats empty optional variables as unset', () => {
    const config = loadConfig({ ...valid, PORT: '', LOG_LEVEL: '', LOGSENE_TOKEN: '', LOGSENE_URL: '' });
    expect(config.port).to.equal(8080);
    expect(config.logLevel).to.equal('info');
    expect(config.logseneToken).to.equal(undefined);
    expect(config.logseneUrl).to.equal(undefined);
  });

  const refused: { name: string; env: NodeJS.ProcessEnv; variable: string; says: string }[] = [
    { name: 'a missing MONGODB_URI', env: {}, variable: 'MONGODB_URI', says: 'is required' },
    { name: 'an empty MONGODB_URI', env: { MONGODB_URI: '' }, variable: 'MONGODB_URI', says: 'is required' },
    { name: 'a MONGODB_URI of another scheme', env: { MONGODB_URI: 'postgres://u:hunter2@db/x' }, variable: 'MONGODB_URI', says: 'mongodb://' },
    { name: 'a MONGODB_URI without a host', env: { MONGODB_URI: 'mongodb://' }, variable: 'MONGODB_URI', says: 'mongodb://' },
    { name: 'a PORT that is not a number', env: { ...valid, PORT: 'http' }, variable: 'PORT', says: 'whole number' },
    { name: 'a PORT out of range', env: { ...valid, PORT: '70000' }, variable: 'PORT', says: 'between 1 and 65535' },
    { name: 'PORT 0', env: { ...valid, PORT: '0' }, variable: 'PORT', says: 'between 1 and 65535' },
    { name: 'an unknown LOG_LEVEL', env: { ...valid, LOG_LEVEL: 'loud' }, variable: 'LOG_LEVEL', says: 'one of error, warn, info' },
    { name: 'a LOGSENE_URL that is no URL', env: { ...valid, LOGSENE_URL: 'receiver' }, variable: 'LOGSENE_URL', says: 'http:// or https://' },
    { name: 'a LOGSENE_URL of another scheme', env: { ...valid, LOGSENE_URL: 'ftp://example.com' }, variable: 'LOGSENE_URL', says: 'http:// or https://' },
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
    expect(problems.map((problem) => problem.split(' ')[0])).to.have.members(['PORT', 'MONGODB_URI', 'LOG_LEVEL']);
  });

  it('never repeats a value, which may be a secret', () => {
    const error = (() => {
      try {
        loadConfig({ MONGODB_URI: 'mongo://admin:hunter2@db.example.net/tasks', LOGSENE_URL: 'not a url with s3cr3t' });
      } catch (caught) {
        return caught as Error;
      }
      return expect.fail('loadConfig accepted a bad environment');
    })();
    expect(error.message).to.include('MONGODB_URI').and.include('LOGSENE_URL');
    expect(error.message).not.to.include('hunter2');
    expect(error.message).not.to.include('s3cr3t');
  });
});
