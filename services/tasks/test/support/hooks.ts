// Root hooks, loaded by .mocharc.json: stop the shared FerretDB once every test has run.
import { stopOwnServer } from './database.js';

export const mochaHooks = {
  async afterAll(this: Mocha.Context): Promise<void> {
    this.timeout(15000);
    await stopOwnServer();
  },
};
