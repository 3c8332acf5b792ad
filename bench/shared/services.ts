// Both services on throwaway databases (PostgreSQL, and FerretDB for tasks) with the log receivers, as the TypeScript
// benches run them; bench/lib's teardown stops them all.
import * as path from "path";
import { lib } from "./cli";

/** A service the bench started: its base URL, port and process. */
export interface StartedService {
    url: string;
    port: number;
    process: { pid: number };
}

export interface BenchServices {
    tasks: StartedService;
    requests: StartedService;
    /** The built tasks service's entry point. */
    tasksEntry: string;
    postgresUrl: string;
    /** The ids of the tasks seeded. */
    seededTasks: string[];
}

/** `seededTasks` tasks in FerretDB, kept in PostgreSQL when `ferretDbOnPostgres` (else in SQLite, FerretDB's default). */
export async function startBothServices(
    workDir: string,
    options: { seededTasks: number; ferretDbOnPostgres?: boolean },
): Promise<BenchServices> {
    const { freePort } = await lib("processes.mjs");
    const { createRequestsSchema, seedTasks, startFerretDb, startPostgres } = await lib("databases.mjs");
    const { buildTasksService, startLogReceivers, startRequestsService, startTasksService } = await lib("services.mjs");
    const tasksEntry: string = await buildTasksService(workDir);
    const receivers = await startLogReceivers(workDir);
    const postgres = await startPostgres(path.join(workDir, "postgres"), await freePort());
    const ferretDb = await startFerretDb(
        path.join(workDir, "ferretdb"),
        await freePort(),
        options.ferretDbOnPostgres ? postgres.url : undefined,
    );
    const mongoUrl = `${ferretDb.url}tasks`;
    const seededTasks: string[] = await seedTasks(mongoUrl, options.seededTasks);
    const tasks = await startTasksService({ workDir, name: "tasks", entry: tasksEntry, mongoUrl, logseneUrl: receivers.logseneUrl });
    await createRequestsSchema(postgres.url);
    const requests = await startRequestsService({
        workDir,
        name: "requests",
        databaseUrl: postgres.url,
        tasksUrl: tasks.url,
        papertrail: receivers.papertrail,
    });
    return { tasks, requests, tasksEntry, postgresUrl: postgres.url, seededTasks };
}
