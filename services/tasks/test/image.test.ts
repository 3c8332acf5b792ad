// What the Dockerfile promises that these tests rely on: they run on the Node the image ships, and the image runs as
// a numeric uid:gid (the release chowns the secret files to it, on a host that has no `node` user).
import { expect } from 'chai';
import { readFileSync } from 'node:fs';

const dockerfile = readFileSync(new URL('../../Dockerfile', import.meta.url), 'utf8');

describe('the image', () => {
  it('is built on the Node version these tests run on (scripts/test.sh runs them on .cache/node24)', () => {
    const bases = [...dockerfile.matchAll(/^FROM node:(\S+?)-alpine\S*/gm)].map((match) => match[1]);
    expect(bases, 'FROM node:<version>-alpine… in every stage').to.have.length.of.at.least(2);
    expect(new Set(bases), 'one Node version in every stage').to.have.property('size', 1);
    expect(`v${bases[0] ?? ''}`, 'the Node version running these tests').to.equal(process.version);
  });

  it('runs as a numeric uid:gid', () => {
    const users = [...dockerfile.matchAll(/^USER\s+(\S+)\s*$/gm)].map((match) => match[1]);
    expect(users).to.have.lengthOf(1);
    expect(users[0]).to.match(/^[1-9]\d*:[1-9]\d*$/);
  });
});
