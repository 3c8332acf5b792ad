// Shared Pulumi mock runtime, loaded once by mocha (--require): setMocks is global to the process.
// It records the inputs and options of every resource the program registers, and answers the provider functions.
import { createHash } from "crypto";
import * as fs from "fs";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import * as YAML from "yaml";

export const project = "microservices";
export const root = path.join(__dirname, "..");

/** The options of a resource that decide how the engine replaces and orders it. */
export interface RecordedOptions {
    ignoreChanges: string[];
    replaceOnChanges: string[];
    deleteBeforeReplace: boolean;
    /** Names of the resources it explicitly depends on. */
    dependsOn: string[];
}

export interface RecordedResource {
    type: string;
    name: string;
    /** As the provider would receive them; secret values keep their secret wrapper. */
    inputs: Record<string, unknown>;
    options: RecordedOptions;
}

export const recorded: RecordedResource[] = [];
const recordedOptions = new Map<string, RecordedOptions>();

export const fakeAmis: Record<string, string> = {
    "/aws/service/ecs/optimized-ami/amazon-linux-2023/recommended/image_id": "ami-0a1b2c3d4e5f60718",
    "/aws/service/ecs/optimized-ami/amazon-linux-2023/arm64/recommended/image_id": "ami-0f9e8d7c6b5a40312",
};
export const fakeAccountId = "123456789012";
export const fakeRegion = "eu-west-1";
export const fakeDeployerArn = `arn:aws:iam::${fakeAccountId}:role/microservices-deployer`;

/**
 * What the fake cloud answers that a test may change: a host's private address (as after a replacement), a
 * parameter's version (as after a rotation), and resources whose creation is held until the test lets them finish.
 */
export const fakeCloud = {
    privateIps: {} as Record<string, string>,
    parameterVersions: {} as Record<string, number>,
    /** Resources held, each with the promise the mocks wait on and the function that lets it finish. */
    held: new Map<string, { done: Promise<void>; finish: () => void }>(),
    /** Holds the creation of `name` until `release(name)`. */
    hold(name: string) {
        let finish: () => void = () => undefined;
        const done = new Promise<void>((resolve) => (finish = resolve));
        this.held.set(name, { done, finish });
    },
    release(name: string) {
        this.held.get(name)?.finish();
    },
    reset() {
        this.privateIps = {};
        this.parameterVersions = {};
        this.held.clear();
    },
};

function sha256(text: string): string {
    return createHash("sha256").update(text).digest("hex");
}

/** The outputs a provider computes for a resource, beyond echoing its inputs. */
function computedState(type: string, name: string, inputs: Record<string, unknown>): Record<string, unknown> {
    const n = recorded.length;
    switch (type) {
        case "docker:index/image:Image": {
            const imageName = String(inputs.imageName);
            return { repoDigest: `${imageName.split(":")[0]}@sha256:${sha256(imageName)}` };
        }
        case "aws:ec2/instance:Instance":
            return {
                privateIp: fakeCloud.privateIps[name] ?? `10.0.1.${n}`,
                publicIp: `198.51.100.${n}`,
                arn: `arn:aws:ec2:::instance/i-${name}`,
            };
        case "aws:ec2/eip:Eip":
            return { publicIp: `203.0.113.${n}`, allocationId: `eipalloc-${name}` };
        case "aws:iam/role:Role":
            return { name: `${name}-1a2b3c`, arn: `arn:aws:iam::${fakeAccountId}:role/${name}-1a2b3c` };
        case "aws:iam/instanceProfile:InstanceProfile":
            return { name: `${name}-4d5e6f`, arn: `arn:aws:iam::${fakeAccountId}:instance-profile/${name}-4d5e6f` };
        case "aws:kms/key:Key":
            return { keyId: `${name}-key-id`, arn: `arn:aws:kms:${fakeRegion}:${fakeAccountId}:key/${name}-key-id` };
        case "aws:ssm/parameter:Parameter":
            return { version: fakeCloud.parameterVersions[name] ?? 1 };
        case "aws:ssm/document:Document":
            return { name: `${name}-7g8h9i`, latestVersion: "1" };
        case "aws:ssm/association:Association":
            return { associationId: `${name}-association-id` };
        default:
            return {};
    }
}

const mocks: pulumi.runtime.Mocks = {
    async newResource(args) {
        if (args.type === "pulumi:pulumi:Stack") return { id: undefined, state: {} };
        const options = recordedOptions.get(`${args.type}::${args.name}`) ?? {
            ignoreChanges: [],
            replaceOnChanges: [],
            deleteBeforeReplace: false,
            dependsOn: [],
        };
        recorded.push({ type: args.type, name: args.name, inputs: args.inputs, options });
        const state = { ...args.inputs, ...computedState(args.type, args.name, args.inputs) };
        await fakeCloud.held.get(args.name)?.done;
        return { id: `${args.name}-id`, state };
    },
    call(args) {
        switch (args.token) {
            case "aws:index/getRegion:getRegion":
                return { region: fakeRegion, name: fakeRegion };
            case "aws:index/getPartition:getPartition":
                return { partition: "aws", dnsSuffix: "amazonaws.com" };
            case "aws:index/getCallerIdentity:getCallerIdentity":
                return {
                    accountId: fakeAccountId,
                    arn: `arn:aws:sts::${fakeAccountId}:assumed-role/microservices-deployer/ci`,
                    userId: "AROAEXAMPLE:ci",
                };
            case "aws:ssm/getParameter:getParameter": {
                const ami = fakeAmis[args.inputs.name];
                if (!ami) throw new Error(`no fake SSM parameter ${args.inputs.name}`);
                return { name: args.inputs.name, type: "String", value: ami, insecureValue: ami };
            }
            case "aws:ec2/getVpc:getVpc":
                return { id: "vpc-0defa017defa01700", cidrBlock: "172.31.0.0/16" };
            case "aws:ec2/getSubnets:getSubnets":
                return { ids: ["subnet-0bbbbbbbbbbbbbbbb", "subnet-0aaaaaaaaaaaaaaaa"] };
            case "aws:route53/getZone:getZone":
                return { name: args.inputs.name, zoneId: "Z0123456789ABCDEFGHIJ", privateZone: args.inputs.privateZone };
            default:
                throw new Error(`the program called ${args.token}, which the mocks do not answer`);
        }
    },
};

/** Records each resource's options as the program gives them (the mocks' newResource does not see options). */
function recordOptions(args: pulumi.ResourceTransformationArgs): undefined {
    const opts = args.opts as pulumi.CustomResourceOptions;
    const dependsOn = opts.dependsOn === undefined ? [] : ([] as unknown[]).concat(opts.dependsOn);
    recordedOptions.set(`${args.type}::${args.name}`, {
        ignoreChanges: opts.ignoreChanges ?? [],
        replaceOnChanges: opts.replaceOnChanges ?? [],
        deleteBeforeReplace: opts.deleteBeforeReplace ?? false,
        dependsOn: dependsOn.map((resource) => (resource as { __name?: string }).__name ?? "?"),
    });
    return undefined;
}

/** A full, valid set of secrets, each holding a unique sentinel so tests can hunt for leaks. */
export const sentinelSecrets: Record<string, string> = {
    dockerHubToken: "dckr_pat_SENTINELdockerhub7f3a",
    mongodbUri: "mongodb+srv://tasks:SENTINELmongo81c2@cluster0.example.mongodb.net/tasks",
    postgresUrl: "postgresql://requests:SENTINELpostgres44d9@db.example.com:5432/requests",
    logseneToken: "SENTINELlogsene-5e6f-7890",
    papertrailDestination: "SENTINELpapertrail.example.com:51234",
    requestsTasksApiKey: "msk_SENTINELrequestskeyAAAAAAAAAAAAAAAAAAAAAAAA",
    // Callers hold only digests (of msk_ and 43 c's, and of 43 d's), so no sentinel: the key above stands for them.
    tasksApiCallers: '{"callers": {"ci": {"access": "write", "keys": ["a903bba3a0f2ab0c8c7820b119873c4c40ade3e2ae27d0c8bd9c400bdb395f92"]}}}',
    requestsApiCallers: '{"callers": {"ci": {"access": "write", "keys": ["3f39c668a40804de17b2ea99d085d31c7fef3b869b75dbccc8f85c3aaf7e56df"]}}}',
};
export const sentinels = [
    "SENTINELdockerhub",
    "SENTINELmongo",
    "SENTINELpostgres",
    "SENTINELlogsene",
    "SENTINELpapertrail",
    "SENTINELrequestskey",
];

/** Stack config as the CLI hands it to the program: namespaced keys, lists as JSON. */
export type ConfigValues = Record<string, string | string[]>;

/** The minimal config a stack needs: the secrets and the Docker Hub account. */
export const minimalConfig: ConfigValues = {
    ...sentinelSecrets,
    dockerHubUsername: "octocat",
    deployerArns: [fakeDeployerArn],
    // It builds its images, which nobody signed.
    imageSigner: "none",
};

/** The networks a real prod stack would allow; the committed file holds a documentation range on purpose. */
export const prodNetworks: ConfigValues = { ingressCidrs: ["10.20.0.0/16"] };

/** Keys in the project's namespace, as the CLI names them (`microservices:ingressCidrs`). */
function withNamespace(config: ConfigValues): ConfigValues {
    return Object.fromEntries(
        Object.entries(config).map(([key, value]) => [key.includes(":") ? key : `${project}:${key}`, value]),
    );
}

function namespaced(config: ConfigValues): Record<string, string> {
    return Object.fromEntries(
        Object.entries(withNamespace(config)).map(([key, value]) => [key, typeof value === "string" ? value : JSON.stringify(value)]),
    );
}

/**
 * The config of a committed stack file as `pulumi up` would see it: the project's defaults, then the stack file,
 * then `extra` (the secrets a user sets with the CLI, and for prod its real networks).
 */
export function stackFileConfig(stack: string, extra: ConfigValues = minimalConfig): ConfigValues {
    const projectFile = YAML.parse(fs.readFileSync(path.join(root, "Pulumi.yaml"), "utf8"));
    const stackFile = YAML.parse(fs.readFileSync(path.join(root, `Pulumi.${stack}.yaml`), "utf8"));
    const config: ConfigValues = {};
    for (const [key, declaration] of Object.entries<{ default?: string | string[] }>(projectFile.config)) {
        if (declaration.default !== undefined) config[key] = declaration.default;
    }
    const layers = [config, stackFile.config, stack === "prod" ? prodNetworks : {}, extra];
    return Object.assign({}, ...layers.map(withNamespace));
}

export interface ProgramRun {
    /** The program's stack outputs. */
    outputs: Record<string, pulumi.Output<string>>;
    resources: RecordedResource[];
}

/**
 * Runs index.ts afresh under the mocks, inside a root stack as the CLI would, and waits until every resource is in.
 * A failure anywhere in the program, in an `apply` too, rejects with its cause instead of hanging.
 */
export async function runProgram(config: ConfigValues, stack = "dev", program = "../index"): Promise<ProgramRun> {
    recorded.length = 0;
    recordedOptions.clear();
    await pulumi.runtime.setMocks(mocks, project, stack, false);
    const values = namespaced(config);
    const secretKeys = Object.keys(sentinelSecrets).map((key) => `${project}:${key}`);
    pulumi.runtime.setAllConfig(values, secretKeys.filter((key) => key in values));
    delete require.cache[require.resolve(program)];

    let outputs: Record<string, pulumi.Output<string>> = {};
    let settle: () => void = () => undefined;
    const settled = new Promise<void>((resolve) => (settle = resolve));
    const failed = new Promise<never>((_, reject) => {
        const onRejection = (reason: unknown) => reject(reason);
        process.once("unhandledRejection", onRejection);
        // Removed once the run settles, so one run's listener never sees the next run's failures.
        void settled.then(() => process.removeListener("unhandledRejection", onRejection));
    });
    try {
        await Promise.race([
            (async () => {
                await pulumi.runtime.runInPulumiStack(async () => {
                    pulumi.runtime.registerStackTransformation(recordOptions);
                    outputs = { ...(await import(program)) };
                    return outputs;
                });
                // Internal but stable: resolves once every pending registration has reached the mocks.
                await (pulumi.runtime as unknown as { waitForRPCs(): Promise<void> }).waitForRPCs();
            })(),
            failed,
        ]);
    } finally {
        settle();
    }
    return { outputs, resources: [...recorded] };
}

/** The value inside an Output, for assertions. */
export function valueOf<T>(output: pulumi.Output<T>): Promise<T> {
    return new Promise((resolve) => output.apply(resolve));
}

/** Whether a recorded input value is wrapped as a secret. */
export function isSecretValue(value: unknown): value is { value: unknown } {
    return (
        typeof value === "object" &&
        value !== null &&
        (value as Record<string, unknown>)[pulumi.runtime.specialSigKey] === pulumi.runtime.specialSecretSig
    );
}

/** The recorded resources of a type, optionally one by name. */
export function ofType(resources: RecordedResource[], type: string): RecordedResource[] {
    return resources.filter((resource) => resource.type === type);
}

export function named(resources: RecordedResource[], name: string): RecordedResource {
    const found = resources.find((resource) => resource.name === name);
    if (!found) throw new Error(`no resource named ${name}; have ${resources.map((r) => r.name).join(", ")}`);
    return found;
}
