// The database module's pure parts: what it logs about the URI (never credentials), and which errors mean 503.
import { expect } from 'chai';
import mongoose from 'mongoose';
import { describeMongoUri, isDatabaseUnavailable, redactPassword } from '../src/db.js';

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

describe('db: which errors mean the database is unavailable', () => {
  const { mongo } = mongoose;
  const cases: [string, unknown, boolean][] = [
    ['a network error', new mongo.MongoNetworkError('connection reset'), true],
    ['a network timeout', new mongo.MongoNetworkTimeoutError('timed out'), true],
    ['a server shutting down', new mongo.MongoServerError({ code: 91, errmsg: 'ShutdownInProgress' }), true],
    ['a primary stepping down', new mongo.MongoServerError({ code: 10107, errmsg: 'NotWritablePrimary' }), true],
    ['a query refused before the first connect', new mongoose.Error('Cannot call `tasks.find()` before initial connection is complete'), true],
    ['a duplicate key', new mongo.MongoServerError({ code: 11000, errmsg: 'E11000 duplicate key' }), false],
    ['a bad query', new mongo.MongoServerError({ code: 2, errmsg: 'BadValue' }), false],
    ['a plain bug', new TypeError('x is undefined'), false],
    ['a thrown string', 'oops', false],
  ];
  for (const [name, error, unavailable] of cases) {
    it(`${name} → ${unavailable ? '503' : 'not 503'}`, () => {
      expect(isDatabaseUnavailable(error)).to.equal(unavailable);
    });
  }
});
