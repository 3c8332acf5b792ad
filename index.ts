import * as pulumi from "@pulumi/pulumi";
import { ServiceHost } from "./components/serviceHost";
import { readStackConfig } from "./config";

// 1. Config: every problem is reported at once, before any resource exists.
const config = readStackConfig(new pulumi.Config(), pulumi.getStack());
const shared = {
    platform: config.imagePlatform,
    registry: { username: config.dockerHub.username, token: config.dockerHub.token },
    ingressCidrs: config.ingressCidrs,
    network: config.network,
    tags: config.tags,
};

// 2. tasks: Node/TypeScript on MongoDB, logs to Logsene.
const tasks = new ServiceHost("tasks", {
    ...shared,
    context: "services/tasks",
    repository: config.tasks.repository,
    instanceType: config.tasks.instanceType,
    port: 8080,
    environment: {
        LOG_LEVEL: config.logLevel,
        ...(config.tasks.logseneReceiverUrl ? { LOGSENE_URL: config.tasks.logseneReceiverUrl } : {}),
    },
    secrets: { MONGODB_URI: config.tasks.mongodbUri, LOGSENE_TOKEN: config.tasks.logseneToken },
});

// 3. requests: Python on PostgreSQL, logs to Papertrail; it checks tasks on the tasks host's private address.
const requests = new ServiceHost("requests", {
    ...shared,
    context: "services/requests",
    repository: config.requests.repository,
    instanceType: config.requests.instanceType,
    port: 8000,
    environment: { LOG_LEVEL: config.logLevel, TASKS_URL: tasks.privateUrl },
    secrets: {
        DATABASE_URL: config.requests.postgresUrl,
        PAPERTRAIL_DESTINATION: config.requests.papertrailDestination,
    },
});
tasks.allowFrom(requests);

// 4. Outputs.
export const tasksUrl = tasks.url;
export const requestsUrl = requests.url;
export const tasksImageDigest = tasks.imageDigest;
export const requestsImageDigest = requests.imageDigest;
export const tasksInstanceId = tasks.instanceId;
export const requestsInstanceId = requests.instanceId;
