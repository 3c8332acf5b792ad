// winston-logsene ships no types: these cover the parts this service uses.
declare module 'winston-logsene' {
  import type { EventEmitter } from 'node:events';
  import TransportStream from 'winston-transport';

  /** The logsene-js client behind the transport: buffers log lines and POSTs them to the bulk API. */
  interface LogseneClient extends EventEmitter {
    logCount: number;
    url: string;
    options: { silent?: boolean; useIndexInBulkUrl?: boolean };
    send(): void;
  }

  interface LogseneOptions extends TransportStream.TransportStreamOptions {
    token: string;
    url?: string;
    type?: string;
    flushOnExit?: boolean;
    handleExceptions?: boolean;
    handleErrors?: boolean;
  }

  class Logsene extends TransportStream {
    constructor(options: LogseneOptions);
    logger: LogseneClient;
  }

  export = Logsene;
}
