import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { ImageSource } from "./components/image";
import { describeImageSigner } from "./components/release/imageSigner";
import { ServiceHost } from "./components/serviceHost";
import { readStackConfig, ServiceImage } from "./config";

// 1. Config: every problem is reported at once, before any resource exists.
const config = readStackConfig(new pulumi.Config(), pulumi.getStack());

/** A given digest is released as is; otherwise the image is built from the service's folder and pushed. */
function imageSource(image: ServiceImage, context: string): ImageSource {
    return "digest" in image ? image : { build: { ...image.build, context } };
}

if (config.acme.staging) {
    pulumi.log.warn("acmeCa is letsencrypt-staging: the hosts' certificates are Let's Encrypt's staging ones, which no browser or client trusts");
}
// The records' zone, when the stack names one: looked up once for both services.
const dnsZoneId = config.dnsZone ? aws.route53.getZoneOutput({ name: config.dnsZone, privateZone: false }).zoneId : undefined;

const shared = {
    platform: config.imagePlatform,
    deployerArns: config.deployerArns,
    secretReaderArns: config.secretReaderArns,
    ami: config.hostAmi,
    healthTimeoutSeconds: config.healthTimeoutSeconds,
    proxyImage: config.proxyImage,
    awsCliImage: config.awsCliImage,
    imageSigner: config.imageSigner,
    cosignImage: config.cosignImage,
    ingressCidrs: config.ingressCidrs,
    acmeDirectory: config.acme.directory,
    acmeEmail: config.acme.email,
    dnsZoneId,
    network: config.network,
    tags: config.tags,
};

// 2. tasks: Node/TypeScript on MongoDB, logs to Logsene.
const tasks = new ServiceHost("tasks", {
    ...shared,
    image: imageSource(config.tasks.image, "services/tasks"),
    instanceType: config.tasks.instanceType,
    domain: config.tasks.domain,
    port: 8080,
    environment: {
        LOG_LEVEL: config.logLevel,
        ...(config.tasks.logseneReceiverUrl ? { LOGSENE_URL: config.tasks.logseneReceiverUrl } : {}),
    },
    secrets: {
        MONGODB_URI: config.tasks.mongodbUri,
        LOGSENE_TOKEN: config.tasks.logseneToken,
        API_KEYS: config.tasks.apiCallers,
    },
});

// 3. requests: Python on PostgreSQL, logs to Papertrail. It calls tasks on the tasks host's private address, in plain
// HTTP inside the VPC, which is known only once that host serves: a new tasks host becomes a requests release, never
// a new requests host.
const requests = new ServiceHost("requests", {
    ...shared,
    image: imageSource(config.requests.image, "services/requests"),
    instanceType: config.requests.instanceType,
    domain: config.requests.domain,
    port: 8000,
    environment: { LOG_LEVEL: config.logLevel, TASKS_URL: tasks.privateUrl },
    secrets: {
        DATABASE_URL: config.requests.postgresUrl,
        PAPERTRAIL_DESTINATION: config.requests.papertrailDestination,
        API_KEYS: config.requests.apiCallers,
        TASKS_API_KEY: config.requests.tasksApiKey,
    },
});
tasks.allowFrom(requests);

// 4. Outputs.
export const tasksUrl = tasks.url;
export const requestsUrl = requests.url;
export const tasksPublicIp = tasks.publicIp;
export const requestsPublicIp = requests.publicIp;
export const tasksImageDigest = tasks.imageDigest;
export const requestsImageDigest = requests.imageDigest;
export const tasksReleaseId = tasks.releaseId;
export const requestsReleaseId = requests.releaseId;
export const tasksInstanceId = tasks.instanceId;
export const requestsInstanceId = requests.instanceId;

// 5. What the hosts require of an image before they run it; running unchecked images is said out loud.
const verification = describeImageSigner(config.imageSigner);
if (config.imageSigner === "none") pulumi.log.warn(verification);
export const imageVerification = pulumi.output(verification);
