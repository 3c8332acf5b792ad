import { createHash } from "crypto";
import * as net from "net";
import * as pulumi from "@pulumi/pulumi";
import { acmeDirectories, AcmeCa, acmeCas } from "./components/host/bootstrap";
import { instanceArchitecture, Platform, platformArchitecture, platforms } from "./components/platform";
import { ImageSigner, imageSignerProblem } from "./components/release/imageSigner";

export const logLevels = ["debug", "info", "warn", "error"] as const;
export type LogLevel = (typeof logLevels)[number];

/** Defaults of the optional keys; Pulumi.yaml declares the same ones (a test keeps the two in step). */
export const configDefaults = {
    dockerHubUsername: "",
    imagePlatform: "linux/amd64",
    instanceType: "t3.micro",
    tasksInstanceType: "",
    requestsInstanceType: "",
    tasksRepository: "",
    requestsRepository: "",
    ingressCidrs: ["0.0.0.0/0"],
    vpcId: "",
    subnetId: "",
    tags: [] as string[],
    deployerArns: [] as string[],
    secretReaderArns: [] as string[],
    logseneReceiverUrl: "",
    logLevel: "info",
    tasksImage: "",
    requestsImage: "",
    hostAmi: "",
    proxyImage: "",
    awsCliImage: "",
    healthTimeoutSeconds: 120,
    tasksDomain: "",
    requestsDomain: "",
    dnsZone: "",
    acmeCa: "letsencrypt",
    acmeEmail: "",
    imageSigner: "",
    cosignImage: "",
};

/** A service's image: a digest to release as is, or a Docker Hub repository to build and push into. */
export type ServiceImage =
    | { digest: string }
    | { build: { repository: string; registry: { username: string; token: pulumi.Output<string> } } };

/** The stack's settings, validated. Secrets are Outputs marked secret. */
export interface StackConfig {
    imagePlatform: Platform;
    /** Unset: each host keeps the AMI it was created with. */
    hostAmi?: string;
    /** Seconds a new container has to answer its health check before its release fails. */
    healthTimeoutSeconds: number;
    /** The hosts' reverse proxy and AWS CLI images, pinned by digest; unset: the component's defaults. */
    proxyImage?: string;
    awsCliImage?: string;
    /** Who must have signed the images the hosts run: a GitHub workflow's URL, a PEM public key, or "none". */
    imageSigner: ImageSigner;
    /** The hosts' cosign image, pinned by digest; unset: the component's default. */
    cosignImage?: string;
    /** Who runs `pulumi up`: they alone administer the secrets' keys, and use them through SSM. */
    deployerArns: string[];
    /** Who may also decrypt the secrets through SSM, e.g. a read-only drift check's role (a refresh reads them). */
    secretReaderArns: string[];
    /** CIDRs allowed to reach the services' HTTPS port. */
    ingressCidrs: string[];
    /** Where the hosts' proxies get their certificates, and whom the CA may write to. */
    acme: { directory: string; email?: string; staging: boolean };
    /** A Route 53 public hosted zone in which the program creates the services' records; unset: none. */
    dnsZone?: string;
    /** Unset: the region's default VPC. */
    network?: { vpcId: string; subnetId: string };
    tags: Record<string, string>;
    logLevel: LogLevel;
    tasks: {
        image: ServiceImage;
        instanceType: string;
        mongodbUri: pulumi.Output<string>;
        logseneToken: pulumi.Output<string>;
        /** Unset: the tasks service's default receiver. */
        logseneReceiverUrl?: string;
        /** Unset: the host's certificate names its Elastic IP. */
        domain?: string;
        /** The tasks service's callers file (API_KEYS): the stack's callers and the caller `requests`. */
        apiCallers: pulumi.Output<string>;
    };
    requests: {
        /** Unset: the host's certificate names its Elastic IP. */
        domain?: string;
        image: ServiceImage;
        instanceType: string;
        postgresUrl: pulumi.Output<string>;
        papertrailDestination: pulumi.Output<string>;
        /** The requests service's callers file (API_KEYS), as set. */
        apiCallers: pulumi.Output<string>;
        /** The key requests sends to tasks (TASKS_API_KEY), whose digest tasks knows as the caller `requests`. */
        tasksApiKey: pulumi.Output<string>;
    };
}

/** Thrown when the stack's config has problems; its message names every one. */
export class ConfigError extends pulumi.RunError {}

/** How to fix a key: an example value and the command that sets it (`fix` when it is not `pulumi config set`). */
interface KeyHelp {
    example: string;
    secret?: boolean;
    list?: boolean;
    fix?: string;
}

const help: Record<string, KeyHelp> = {
    dockerHubUsername: { example: "myname" },
    dockerHubToken: { example: "dckr_pat_…", secret: true },
    mongodbUri: { example: "mongodb+srv://tasks:PASSWORD@cluster0.example.mongodb.net/tasks", secret: true },
    postgresUrl: { example: "postgresql://requests:PASSWORD@db.example.com:5432/requests", secret: true },
    logseneToken: { example: "a1b2c3d4-e5f6-7890-abcd-ef1234567890", secret: true },
    papertrailDestination: { example: "logs3.papertrailapp.com:12345", secret: true },
    logseneReceiverUrl: { example: "https://logsene-receiver.eu.sematext.com" },
    imagePlatform: { example: "linux/amd64" },
    instanceType: { example: "t3.micro" },
    tasksInstanceType: { example: "t3.small" },
    requestsInstanceType: { example: "t3.small" },
    tasksRepository: { example: "myname/tasks" },
    requestsRepository: { example: "myname/requests" },
    ingressCidrs: { example: "10.20.0.0/16", list: true },
    vpcId: { example: "vpc-0123456789abcdef0" },
    subnetId: { example: "subnet-0123456789abcdef0" },
    tags: { example: "team=platform", list: true },
    deployerArns: { example: "arn:aws:iam::123456789012:role/microservices-deployer", list: true },
    secretReaderArns: { example: "arn:aws:iam::123456789012:role/microservices-drift", list: true },
    logLevel: { example: "info" },
    tasksImage: { example: "docker.io/myname/tasks@sha256:<64 hex digits>" },
    requestsImage: { example: "docker.io/myname/requests@sha256:<64 hex digits>" },
    hostAmi: { example: "ami-0123456789abcdef0" },
    proxyImage: { example: "registry.example.com/mirror/caddy@sha256:<64 hex digits>" },
    awsCliImage: { example: "registry.example.com/mirror/aws-cli@sha256:<64 hex digits>" },
    healthTimeoutSeconds: { example: "120" },
    tasksDomain: { example: "tasks.example.com" },
    requestsDomain: { example: "requests.example.com" },
    dnsZone: { example: "example.com" },
    acmeCa: { example: "letsencrypt-staging" },
    acmeEmail: { example: "ops@example.com" },
    imageSigner: { example: "https://github.com/acme/microservices/.github/workflows/deploy.yml@refs/heads/main" },
    cosignImage: { example: "registry.example.com/mirror/cosign@sha256:<64 hex digits>" },
    tasksApiCallers: {
        example: '{"callers": {"ci": {"access": "write", "keys": ["<SHA-256 of the key, 64 hex digits>"]}}}',
        secret: true,
        fix: "scripts/api-keys.sh <stack> tasks add <caller> --write",
    },
    requestsApiCallers: {
        example: '{"callers": {"ci": {"access": "write", "keys": ["<SHA-256 of the key, 64 hex digits>"]}}}',
        secret: true,
        fix: "scripts/api-keys.sh <stack> requests add <caller> --write",
    },
    requestsTasksApiKey: { example: "msk_<43 base64url characters>", secret: true, fix: "scripts/deploy.sh <stack> (it makes one)" },
};

/** Every project key the program reads, and those among them that are secrets. */
export const configKeys = Object.keys(help);
export const secretConfigKeys = configKeys.filter((key) => help[key].secret);

/** The `pulumi config set` command that fixes a key. Secrets are left for the CLI to prompt for. */
export function fixCommand(key: string): string {
    const { example, secret, list, fix } = help[key];
    if (fix) return fix;
    if (secret) return `pulumi config set --secret ${key}`;
    if (list) return `pulumi config set --path '${key}[0]' ${example}`;
    return `pulumi config set ${key} ${example}`;
}

/** Reads, checks and types the stack's config. Throws one ConfigError naming every problem found. */
export function readStackConfig(config: pulumi.Config, stack: string): StackConfig {
    const problems: { key: string; text: string }[] = [];
    const problem = (key: string, what: string) =>
        problems.push({ key, text: `- \`${key}\` ${what}.\n  Example: ${help[key].example}\n  Fix: ${fixCommand(key)}` });

    const text = (key: keyof typeof configDefaults) => config.get(key) ?? (configDefaults[key] as string);
    const list = (key: "ingressCidrs" | "tags" | "deployerArns" | "secretReaderArns"): string[] => {
        const raw = config.get(key);
        if (raw === undefined) return configDefaults[key];
        try {
            const value: unknown = JSON.parse(raw);
            if (Array.isArray(value) && value.every((item) => typeof item === "string")) return value;
        } catch {
            // reported below
        }
        problem(key, "must be a list of strings");
        return [];
    };
    // Secrets are read as text only to check their shape; they leave this function wrapped as secrets.
    const secret = (key: string, check: (value: string) => string | undefined, why = ""): pulumi.Output<string> => {
        const value = config.get(key);
        if (value === undefined || value === "") {
            problem(key, `is not set${why}`);
        } else {
            const wrong = check(value);
            if (wrong) problem(key, wrong);
        }
        return pulumi.secret(value ?? "");
    };

    // An image given by digest is released as is; the others are built here and pushed with the Docker Hub account.
    const givenImage = (key: "tasksImage" | "requestsImage" | "proxyImage" | "awsCliImage" | "cosignImage") => {
        const value = text(key);
        if (value && !isPinnedImage(value)) {
            problem(key, `is "${value}"; it must be an image pinned by digest, registry/namespace/name@sha256:<digest>`);
        }
        return value;
    };
    const tasksImage = givenImage("tasksImage");
    const requestsImage = givenImage("requestsImage");
    const builds = !tasksImage || !requestsImage;

    const dockerHubUsername = text("dockerHubUsername");
    if (!dockerHubUsername) {
        if (builds) problem("dockerHubUsername", "is not set; it pushes the images this stack builds");
    } else if (!isRepositoryPart(dockerHubUsername)) {
        problem("dockerHubUsername", `is "${dockerHubUsername}"; it must be lowercase letters and digits`);
    }

    const dockerHubToken = builds
        ? secret("dockerHubToken", oneWord, "; it pushes the images this stack builds")
        : pulumi.secret("");
    const image = (given: string, key: "tasksRepository" | "requestsRepository", service: string): ServiceImage => {
        if (given) return { digest: given };
        const repository = text(key) || `${dockerHubUsername}/${service}`;
        if (text(key) && !isRepository(repository)) {
            problem(key, `is "${repository}"; it must be namespace/name in lowercase letters, digits and . _ -`);
        }
        return { build: { repository, registry: { username: dockerHubUsername, token: dockerHubToken } } };
    };

    const hostAmi = text("hostAmi");
    if (hostAmi && !/^ami-[0-9a-f]{8,17}$/.test(hostAmi)) problem("hostAmi", `is "${hostAmi}"; it must look like ami-…`);

    const healthTimeout = config.get("healthTimeoutSeconds") ?? String(configDefaults.healthTimeoutSeconds);
    // The release document's allowedPattern takes 1 to 9999.
    if (!/^[1-9][0-9]{0,3}$/.test(healthTimeout)) {
        problem("healthTimeoutSeconds", `is "${healthTimeout}"; it must be a whole number of seconds from 1 to 9999`);
    }

    const proxyImage = givenImage("proxyImage");
    const awsCliImage = givenImage("awsCliImage");

    // Who must have signed the images: never a default, so a stack that runs unverified images says `none`.
    const imageSigner = text("imageSigner");
    const signerProblem = imageSigner ? imageSignerProblem(imageSigner) : undefined;
    if (!imageSigner) {
        problem("imageSigner", "is not set; name who must have signed the images the hosts run, or none to run them unchecked (a local trial)");
    } else if (signerProblem) {
        problem("imageSigner", signerProblem);
    } else if (builds && imageSigner !== "none") {
        problem("imageSigner", "names a signer, but this stack builds images nobody signed; release signed digests (tasksImage and requestsImage), or set it to none");
    }
    const cosignImage = givenImage("cosignImage");

    const imagePlatform = text("imagePlatform");
    if (!(platforms as readonly string[]).includes(imagePlatform)) {
        problem("imagePlatform", `is "${imagePlatform}"; allowed values are ${platforms.join(", ")}`);
    }

    const checkInstanceType = (key: "instanceType" | "tasksInstanceType" | "requestsInstanceType", value: string) => {
        if (!/^[a-z][a-z0-9-]*\.[a-z0-9]+$/.test(value)) {
            problem(key, `is "${value}"; it must be an EC2 instance type such as t3.micro`);
        } else if (
            (platforms as readonly string[]).includes(imagePlatform) &&
            instanceArchitecture(value) !== platformArchitecture(imagePlatform as Platform)
        ) {
            problem(
                key,
                `is "${value}", an ${instanceArchitecture(value)} type, but \`imagePlatform\` is ${imagePlatform}; ` +
                    `pick an ${platformArchitecture(imagePlatform as Platform)} type or change \`imagePlatform\``,
            );
        }
    };
    const stackInstanceType = text("instanceType");
    checkInstanceType("instanceType", stackInstanceType);
    const instanceType = (key: "tasksInstanceType" | "requestsInstanceType") => {
        const own = text(key);
        if (!own) return stackInstanceType;
        checkInstanceType(key, own);
        return own;
    };

    // Key policies name IAM roles and users; a session's ARN (sts::…:assumed-role/…) changes with each session.
    const principals = (key: "deployerArns" | "secretReaderArns") => {
        const arns = list(key);
        for (const arn of arns) {
            if (!/^arn:aws[a-z-]*:iam::\d{12}:(role|user)\/[\w+=,.@/-]{1,512}$/.test(arn)) {
                problem(key, `holds "${arn}"; it must be an IAM role or user ARN, arn:aws:iam::<account>:role/<name> (for an assumed role, its role's ARN: aws iam get-role --role-name NAME --query Role.Arn)`);
            }
        }
        return arns;
    };
    const deployerArns = principals("deployerArns");
    if (deployerArns.length === 0) {
        problem("deployerArns", "is not set; name the IAM role or user that runs `pulumi up` for this stack (the secrets' keys let only it administer them; aws sts get-caller-identity shows yours)");
    }
    const secretReaderArns = principals("secretReaderArns");

    const ingressCidrs = list("ingressCidrs");
    for (const cidr of ingressCidrs) {
        const wrong = cidrProblem(cidr);
        if (wrong) problem("ingressCidrs", `holds "${cidr}": ${wrong}`);
    }
    const duplicates = ingressCidrs.filter((cidr, index) => ingressCidrs.indexOf(cidr) !== index);
    if (duplicates.length > 0) problem("ingressCidrs", `lists ${[...new Set(duplicates)].join(", ")} more than once`);

    const vpcId = text("vpcId");
    const subnetId = text("subnetId");
    if (vpcId && !/^vpc-[0-9a-f]{8,17}$/.test(vpcId)) problem("vpcId", `is "${vpcId}"; it must look like vpc-…`);
    if (subnetId && !/^subnet-[0-9a-f]{8,17}$/.test(subnetId)) {
        problem("subnetId", `is "${subnetId}"; it must look like subnet-…`);
    }
    if (Boolean(vpcId) !== Boolean(subnetId)) {
        const [unset, set] = vpcId ? ["subnetId", "vpcId"] : ["vpcId", "subnetId"];
        problem(unset, `is not set, but \`${set}\` is; set both, or neither for the default VPC`);
    }

    const tags: Record<string, string> = {};
    for (const entry of list("tags")) {
        const [key, ...rest] = entry.split("=");
        const value = rest.join("=");
        if (!key || rest.length === 0) problem("tags", `holds "${entry}"; each tag must be key=value`);
        else if (["project", "stack", "service", "Name"].includes(key) || key.startsWith("aws:")) {
            problem("tags", `holds "${entry}"; the key ${key} is set by the program`);
        } else if (key.length > 128 || value.length > 256) {
            problem("tags", `holds "${entry}"; keys stop at 128 characters and values at 256`);
        } else if (key in tags) problem("tags", `sets ${key} more than once`);
        else tags[key] = value;
    }

    const logLevel = text("logLevel");
    if (!(logLevels as readonly string[]).includes(logLevel)) {
        problem("logLevel", `is "${logLevel}"; allowed values are ${logLevels.join(", ")}`);
    }

    const logseneReceiverUrl = text("logseneReceiverUrl");
    if (logseneReceiverUrl) {
        const wrong = httpUrlProblem(logseneReceiverUrl);
        if (wrong) problem("logseneReceiverUrl", `is "${logseneReceiverUrl}"; ${wrong}`);
    }

    const domain = (key: "tasksDomain" | "requestsDomain") => {
        const value = text(key);
        if (value && net.isIP(value)) {
            problem(key, `is "${value}", an IP address; leave it empty and the host gets a certificate for its Elastic IP`);
        } else if (value && !isDnsName(value)) {
            problem(key, `is "${value}"; it must be a DNS name in lowercase letters, digits and dashes, such as ${help[key].example}`);
        }
        return value;
    };
    const tasksDomain = domain("tasksDomain");
    const requestsDomain = domain("requestsDomain");
    if (tasksDomain && tasksDomain === requestsDomain) {
        problem("requestsDomain", `is "${requestsDomain}", the same as \`tasksDomain\`; each service needs a name of its own`);
    }
    const dnsZone = text("dnsZone");
    if (dnsZone && !isDnsName(dnsZone)) {
        problem("dnsZone", `is "${dnsZone}"; it must be the name of a Route 53 public hosted zone, such as example.com`);
    } else if (dnsZone && !tasksDomain && !requestsDomain) {
        problem("dnsZone", `is "${dnsZone}", but neither \`tasksDomain\` nor \`requestsDomain\` is set; set them to names in the zone, or unset \`dnsZone\``);
    } else if (dnsZone) {
        for (const [key, value] of [["tasksDomain", tasksDomain], ["requestsDomain", requestsDomain]] as const) {
            if (value && value !== dnsZone && !value.endsWith(`.${dnsZone}`)) {
                problem(key, `is "${value}", outside \`dnsZone\` ${dnsZone}, where the program creates its record; use a name in the zone, or unset \`dnsZone\` and create the record yourself`);
            }
        }
    }
    const acmeCa = text("acmeCa");
    if (!(acmeCas as readonly string[]).includes(acmeCa)) {
        problem("acmeCa", `is "${acmeCa}"; allowed values are ${acmeCas.join(", ")}`);
    }
    const acmeEmail = text("acmeEmail");
    if (acmeEmail && !/^[^@\s]+@[^@\s]+\.[^@\s.]+$/.test(acmeEmail)) {
        problem("acmeEmail", `is "${acmeEmail}"; it must be an email address such as ops@example.com`);
    }
    // The callers of each service: the stack's own, and for tasks the requests service with its read-only key.
    const requestsTasksApiKey = secret("requestsTasksApiKey", apiKeyProblem);
    const callersOf = (key: "tasksApiCallers" | "requestsApiCallers", added: Callers) => {
        const value = config.get(key);
        if (value === undefined || value === "") {
            problem(key, "is not set; a service with no callers refuses to start");
            return pulumi.secret("");
        }
        const { callers, problems: wrong } = parseCallers(value, added);
        for (const text of wrong) problem(key, text);
        const json = JSON.stringify({ callers: { ...callers, ...added } });
        if (wrong.length === 0 && Buffer.byteLength(json) > standardParameterBytes) {
            problem(key, `makes a callers file of ${Buffer.byteLength(json)} bytes; an SSM parameter holds ${standardParameterBytes}: revoke callers or old keys`);
        }
        return pulumi.secret(json);
    };
    const requestsKey = config.get("requestsTasksApiKey") ?? "";
    const requestsCaller: Callers = { requests: { access: "read", keys: [sha256Hex(requestsKey)] } };

    const result: StackConfig = {
        imagePlatform: imagePlatform as Platform,
        hostAmi: hostAmi || undefined,
        healthTimeoutSeconds: Number(healthTimeout),
        proxyImage: proxyImage || undefined,
        awsCliImage: awsCliImage || undefined,
        imageSigner,
        cosignImage: cosignImage || undefined,
        deployerArns,
        secretReaderArns,
        ingressCidrs,
        acme: {
            directory: acmeDirectories[acmeCa as AcmeCa],
            email: acmeEmail || undefined,
            staging: acmeCa === "letsencrypt-staging",
        },
        dnsZone: dnsZone || undefined,
        network: vpcId && subnetId ? { vpcId, subnetId } : undefined,
        tags,
        logLevel: logLevel as LogLevel,
        tasks: {
            image: image(tasksImage, "tasksRepository", "tasks"),
            instanceType: instanceType("tasksInstanceType"),
            mongodbUri: secret("mongodbUri", mongodbUriProblem),
            logseneToken: secret("logseneToken", oneWord),
            logseneReceiverUrl: logseneReceiverUrl || undefined,
            domain: tasksDomain || undefined,
            apiCallers: callersOf("tasksApiCallers", requestsCaller),
        },
        requests: {
            domain: requestsDomain || undefined,
            image: image(requestsImage, "requestsRepository", "requests"),
            instanceType: instanceType("requestsInstanceType"),
            postgresUrl: secret("postgresUrl", postgresUrlProblem),
            papertrailDestination: secret("papertrailDestination", hostPortProblem),
            apiCallers: callersOf("requestsApiCallers", {}),
            tasksApiKey: requestsTasksApiKey,
        },
    };

    if (problems.length > 0) {
        const count = problems.length === 1 ? "1 configuration problem" : `${problems.length} configuration problems`;
        // Sorted by key, so each key's problems stand together and the message reads the same every run.
        const list = problems.sort((a, b) => a.key.localeCompare(b.key)).map((p) => p.text);
        throw new ConfigError(`Stack "${stack}" has ${count}; nothing was created.\n${list.join("\n")}`);
    }
    return result;
}

function isRepositoryPart(value: string): boolean {
    return /^[a-z0-9]+(?:[._-][a-z0-9]+)*$/.test(value);
}

/**
 * An image reference pinned by digest: a registry host (Docker Hub's is docker.io), a repository path in lowercase
 * letters, digits and separators, and a sha256 digest. The hosts pull it without credentials.
 */
function isPinnedImage(value: string): boolean {
    const part = "[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*";
    return new RegExp(`^[a-z0-9.-]+(?::[0-9]+)?(?:/${part})+@sha256:[0-9a-f]{64}$`).test(value);
}

/** A DNS name of two labels or more in lowercase letters, digits and inner dashes, whose last label is no number. */
function isDnsName(value: string): boolean {
    const label = "[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?";
    return value.length <= 253 && new RegExp(`^(?:${label}\\.)+[a-z](?:[a-z0-9-]{0,61}[a-z0-9])?$`).test(value);
}

function isRepository(value: string): boolean {
    const parts = value.split("/");
    return parts.length === 2 && parts.every(isRepositoryPart);
}

/** Secret values are never echoed in messages; only what is wrong with them. */
function oneWord(value: string): string | undefined {
    return /\s/.test(value) ? "contains whitespace" : undefined;
}

function mongodbUriProblem(value: string): string | undefined {
    if (!/^mongodb(\+srv)?:\/\//.test(value)) return "must start with mongodb:// or mongodb+srv://";
    if (!/^mongodb(\+srv)?:\/\/([^@/\s]+@)?[^@/\s]+/.test(value)) return "has no host after the scheme";
    return oneWord(value);
}

function postgresUrlProblem(value: string): string | undefined {
    if (!/^postgres(ql)?:\/\//.test(value)) return "must start with postgres:// or postgresql://";
    try {
        if (!new URL(value).hostname) return "has no host after the scheme";
    } catch {
        return "is not a valid URL";
    }
    return oneWord(value);
}

function hostPortProblem(value: string): string | undefined {
    const match = /^([A-Za-z0-9.-]+):(\d+)$/.exec(value);
    if (!match) return "must be host:port";
    const port = Number(match[2]);
    return port >= 1 && port <= 65535 ? undefined : "has a port outside 1-65535";
}

function httpUrlProblem(value: string): string | undefined {
    try {
        const url = new URL(value);
        if (url.protocol !== "https:" && url.protocol !== "http:") return "it must be an http(s) URL";
        if (url.username || url.password) return "it must not hold credentials";
        return undefined;
    } catch {
        return "it must be an http(s) URL";
    }
}

/** A callers file (docs/api.md § Authentication): each caller's access and the SHA-256 digests of its keys. */
export type Callers = Record<string, { access: "read" | "write"; keys: string[] }>;

/** What one standard SSM parameter holds, as the services' callers files travel. */
const standardParameterBytes = 4096;

export function sha256Hex(text: string): string {
    return createHash("sha256").update(text, "ascii").digest("hex");
}

/** A key as the services accept it: msk_ and 32 random bytes in unpadded base64url. */
function apiKeyProblem(value: string): string | undefined {
    return /^msk_[A-Za-z0-9_-]{43}$/.test(value) ? undefined : "must be msk_ and 43 base64url characters (32 random bytes)";
}

/**
 * Reads a callers file and checks it as the services do. Problems name the caller and the rule, never a digest.
 * `added` are the callers the program adds itself: their ids are reserved, and their digests count as taken.
 */
export function parseCallers(value: string, added: Callers = {}): { callers: Callers; problems: string[] } {
    const shape = 'must be JSON of the shape {"callers": {"<caller>": {"access": "read" | "write", "keys": ["<sha256 hex>"]}}}';
    let parsed: unknown;
    try {
        parsed = JSON.parse(value);
    } catch {
        return { callers: {}, problems: [shape] };
    }
    const entries = (parsed as { callers?: unknown })?.callers;
    if (typeof entries !== "object" || entries === null || Array.isArray(entries)) return { callers: {}, problems: [shape] };
    if (Object.keys(entries).length === 0) return { callers: {}, problems: ["has no callers; a service with no callers refuses to start"] };

    const problems: string[] = [];
    const owners = new Map(Object.entries(added).flatMap(([id, caller]) => caller.keys.map((digest) => [digest, id] as const)));
    for (const [id, caller] of Object.entries(entries as Record<string, { access?: unknown; keys?: unknown }>)) {
        if (!/^[a-z][a-z0-9-]{0,63}$/.test(id)) {
            problems.push(`names the caller "${id.slice(0, 80)}"; a caller id is 1 to 64 of a-z, 0-9 and -, starting with a letter`);
        } else if (Object.hasOwn(added, id)) {
            problems.push(`names the caller ${id}, which the program adds itself; give yours another name`);
        }
        if (caller?.access !== "read" && caller?.access !== "write") {
            problems.push(`gives the caller ${id} an access other than read or write`);
        }
        const keys = caller?.keys;
        if (!Array.isArray(keys) || keys.length < 1 || keys.length > 2) {
            problems.push(`gives the caller ${id} no list of 1 or 2 key digests (2 only during a rotation)`);
            continue;
        }
        for (const digest of keys) {
            if (typeof digest !== "string" || !/^[0-9a-f]{64}$/.test(digest)) {
                problems.push(`gives the caller ${id} a key digest that is not 64 lowercase hex digits (a SHA-256)`);
            } else if (owners.has(digest)) {
                problems.push(`gives the caller ${id} a key digest the caller ${owners.get(digest)} has too; a key belongs to one caller only`);
            } else {
                owners.set(digest, id);
            }
        }
    }
    return { callers: entries as Callers, problems };
}

/** Address ranges reserved for documentation: a rule with one of them reaches nobody. */
const documentationRanges = [
    { range: "192.0.2.0/24", rfc: "RFC 5737" },
    { range: "198.51.100.0/24", rfc: "RFC 5737" },
    { range: "203.0.113.0/24", rfc: "RFC 5737" },
    { range: "2001:db8::/32", rfc: "RFC 3849" },
];

/** The documentation range a CIDR lies in, if any. */
function documentationRange(cidr: string): { range: string; rfc: string } | undefined {
    const [address, prefix] = cidr.split("/");
    const family = net.isIPv4(address) ? "ipv4" : "ipv6";
    return documentationRanges.find(({ range }) => {
        const [start, bits] = range.split("/");
        if (net.isIPv4(start) !== (family === "ipv4") || Number(prefix) < Number(bits)) return false;
        const block = new net.BlockList();
        block.addSubnet(start, Number(bits), family);
        return block.check(address, family);
    });
}

/** What is wrong with a CIDR, or undefined. IPv4 CIDRs must have their host bits clear, as AWS requires. */
export function cidrProblem(cidr: string): string | undefined {
    const shape = cidrShapeProblem(cidr);
    if (shape) return shape;
    const documentation = documentationRange(cidr);
    if (documentation) {
        return `it lies in ${documentation.range}, a range reserved for documentation (${documentation.rfc}) that reaches nobody; put the networks your clients use`;
    }
    return undefined;
}

function cidrShapeProblem(cidr: string): string | undefined {
    const [address, prefixText, ...rest] = cidr.split("/");
    const prefix = Number(prefixText);
    if (rest.length > 0 || prefixText === undefined || !/^\d{1,3}$/.test(prefixText)) {
        return "it must be an address/prefix CIDR";
    }
    if (net.isIPv4(address)) {
        if (prefix > 32) return "an IPv4 prefix stops at 32";
        const bits = address.split(".").reduce((sum, octet) => sum * 256 + Number(octet), 0);
        const network = prefix === 0 ? 0 : bits - (bits % 2 ** (32 - prefix));
        if (network !== bits) return `its host bits are set (the network is ${ipv4(network)}/${prefix})`;
        return undefined;
    }
    if (net.isIPv6(address)) return prefix > 128 ? "an IPv6 prefix stops at 128" : undefined;
    return "it must be an address/prefix CIDR";
}

function ipv4(bits: number): string {
    return [24, 16, 8, 0].map((shift) => Math.floor(bits / 2 ** shift) % 256).join(".");
}
