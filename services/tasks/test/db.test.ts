// What the database module writes into logs: hosts and database, never credentials.
import { expect } from 'chai';
import { describeMongoUri, redactPassword } from '../src/db.js';

describe('db: what gets logged about the URI', () => {
  const cases: [string, string][] = [
    ['mongodb://127.0.0.1:27017/', 'mongodb://127.0.0.1:27017/'],
    ['mongodb://user:p%40ss@h1:1,h2:2/tasks?replicaSet=rs0', 'mongodb://h1:1,h2:2/tasks'],
    ['mongodb+srv://user:secret@cluster0.example.net/tasks?retryWrites=true', 'mongodb+srv://cluster0.example.net/tasks'],
    ['mongodb://localhost', 'mongodb://localhost'],
  ];
  for (const [uri, described] of cases) {
    it(`describes ${uri} as ${described}`, () => {
      expect(describeMongoUri(uri)).to.equal(described);
    });
  }

  it('blanks the password out of a driver message, encoded or not', () => {
    const uri = 'mongodb://admin:p%40ss@db.example.net/tasks';
    expect(redactPassword('auth failed for p%40ss and p@ss', uri)).to.equal('auth failed for [redacted] and [redacted]');
    expect(redactPassword('connect ECONNREFUSED', 'mongodb://db/tasks')).to.equal('connect ECONNREFUSED');
  });
});
