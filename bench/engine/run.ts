// Release figures through a real `pulumi up`, on the engine rig (test/engine/): for each kind of change, how long the
// whole `up` took, how long from its start until the tasks gate passed (the host serves the release), and the
// requests that failed or were retried under a steady load through both public addresses.
//   npx ts-node bench/engine/run.ts [--releases N]      (as root; the Pulumi CLI built by scripts/install.sh)
import { startLoad } from "../../test/release/load";
import { Rig } from "../../test/engine/rig";

function option(name: string, fallback: number): number {
    const index = process.argv.indexOf(`--${name}`);
    return index > 0 ? Number(process.argv[index + 1]) : fallback;
}

const endpoint = (url: unknown) => {
    const parsed = new URL(String(url));
    return { host: parsed.hostname, port: Number(parsed.port) };
};

async function main(): Promise<void> {
    const releases = option("releases", 3);
    const rig = new Rig();
    try {
        await rig.start();
        const helpers = rig.cloud.pushHostImages();
        const tasks = Array.from({ length: releases + 1 }, (_, index) => rig.cloud.pushService("tasks", String(index)));
        await rig.createStack("bench", {
            "aws:region": { value: "eu-west-1" },
            "microservices:deployerArns[0]": { value: rig.cloud.deployerRoleArn },
            "microservices:tasksImage": { value: tasks[0] },
            "microservices:requestsImage": { value: rig.cloud.pushService("requests", "0") },
            "microservices:proxyImage": { value: helpers.proxyImage },
            "microservices:awsCliImage": { value: helpers.awsCliImage },
            "microservices:imageSigner": { value: "none" },
            "microservices:mongodbUri": { value: "mongodb://bench:bench@db.example:27017/tasks", secret: true },
            "microservices:postgresUrl": { value: "postgresql://bench:bench@db.example:5432/requests", secret: true },
            "microservices:logseneToken": { value: "bench", secret: true },
            "microservices:papertrailDestination": { value: "logs.example.com:12345", secret: true },
        });
        const rows: string[] = [];
        let outputs: Record<string, unknown> = {};
        const measure = async (kind: string, change: () => Promise<void>) => {
            await change();
            const loads = outputs.tasksUrl
                ? ["tasksUrl", "requestsUrl"].map((key) => startLoad(endpoint(outputs[key]).port, { host: endpoint(outputs[key]).host, clients: 2, pauseMs: 20, maxMs: 900000 }))
                : [];
            const run = await rig.up();
            if (run.failed) throw new Error(`${kind}: up failed\n${run.output}`);
            outputs = run.outputs;
            const reports = await Promise.all(loads.map((load) => load.stop()));
            const gate = run.timeline.findIndex((entry) => entry.startsWith("done") && entry.endsWith(" tasks-release-gate"));
            const failed = reports.reduce((sum, report) => sum + report.failed, 0);
            const retried = reports.reduce((sum, report) => sum + report.retried, 0);
            const answered = reports.reduce((sum, report) => sum + report.ok + report.failed, 0);
            rows.push(
                `| ${kind} | ${run.seconds.toFixed(1)} | ${gate < 0 ? "-" : run.timelineSeconds[gate].toFixed(1)} | ` +
                    `${loads.length ? `${failed} / ${retried} / ${answered}` : "-"} |`,
            );
        };
        await measure("up from empty", async () => undefined);
        for (let index = 1; index <= releases; index++) {
            await measure(`release ${index}`, () => rig.setConfig("microservices:tasksImage", tasks[index]));
        }
        await measure("rollback", () => rig.setConfig("microservices:tasksImage", tasks[releases - 1]));
        await measure("host replacement", () => rig.setConfig("microservices:tasksInstanceType", "t3.small"));
        await rig.destroy();
        console.log("| change | whole `up` (s) | until the tasks gate passed (s) | failed / retried / requests |");
        console.log("|---|---|---|---|");
        for (const row of rows) console.log(row);
    } finally {
        await rig.stop();
    }
}

main().then(
    () => process.exit(0),
    (error) => {
        console.error(error);
        process.exit(1);
    },
);
