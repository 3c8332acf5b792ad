// Runs the pack's policies on resources the way `pulumi preview --policy-pack` does, without the CLI. Shared by the
// pack's own tests and by the program's test that runs the pack over the real program under mocks.
import * as pulumi from "@pulumi/pulumi";
import { ResourceValidationArgs, ResourceValidationPolicy, unknownCheckingProxy } from "@pulumi/policy";
import { policies as packPolicies } from "../policies";

/** A resource as the engine hands it to a policy pack: inputs in wire form, secrets still wrapped. */
export interface AnalyzedResource {
    type: string;
    name: string;
    inputs: Record<string, unknown>;
}

export interface Violation {
    policy: string;
    message: string;
}

function isSecretWrapper(value: object): value is { value: unknown } {
    return (value as Record<string, unknown>)[pulumi.runtime.specialSigKey] === pulumi.runtime.specialSecretSig;
}

/**
 * The properties a policy sees. The engine drops internal `__` keys and sends secrets wrapped; @pulumi/policy then
 * unwraps every secret to its plain value (deserializeProperties with proxySecrets off), with nothing left to tell a
 * secret from a plain value.
 */
export function policyView(value: unknown): unknown {
    if (Array.isArray(value)) return value.map(policyView);
    if (value === null || typeof value !== "object") return value;
    if (isSecretWrapper(value)) return policyView(value.value);
    const view: Record<string, unknown> = {};
    for (const [key, inner] of Object.entries(value)) {
        if (!key.startsWith("__") && inner !== undefined) view[key] = policyView(inner);
    }
    return view;
}

class NotApplicable extends Error {}

/** The args @pulumi/policy builds for a resource validation, minus the options and provider no policy here reads. */
function validationArgs(resource: AnalyzedResource): ResourceValidationArgs {
    const props = unknownCheckingProxy(policyView(resource.inputs) as Record<string, unknown>);
    // Generated resource classes carry their type token, which is how @pulumi/policy matches them too.
    const isType = (resourceClass: object) =>
        (resourceClass as { __pulumiType?: string }).__pulumiType === resource.type;
    return {
        type: resource.type,
        name: resource.name,
        urn: `urn:pulumi:test::microservices::${resource.type}::${resource.name}`,
        props,
        opts: {
            protect: false,
            ignoreChanges: [],
            aliases: [],
            additionalSecretOutputs: [],
            customTimeouts: { createSeconds: 0, updateSeconds: 0, deleteSeconds: 0 },
        },
        stackTags: new Map(),
        isType,
        asType: ((resourceClass: object) =>
            isType(resourceClass) ? props : undefined) as ResourceValidationArgs["asType"],
        getConfig: <T extends object>() => ({}) as T,
        notApplicable: (reason?: string): never => {
            throw new NotApplicable(reason);
        },
    };
}

/** Every violation the policies report for one resource. A policy that does not apply reports nothing. */
export async function analyze(
    resource: AnalyzedResource,
    policies: ResourceValidationPolicy[] = packPolicies,
): Promise<Violation[]> {
    const violations: Violation[] = [];
    for (const policy of policies) {
        const validations = [policy.validateResource ?? []].flat();
        for (const validate of validations) {
            try {
                await validate(validationArgs(resource), (message) =>
                    violations.push({ policy: policy.name, message }),
                );
            } catch (error) {
                if (!(error instanceof NotApplicable)) throw error;
            }
        }
    }
    return violations;
}

/** Every violation over many resources, each naming its resource. */
export async function analyzeAll(resources: AnalyzedResource[]): Promise<(Violation & { resource: string })[]> {
    const all: (Violation & { resource: string })[] = [];
    for (const resource of resources) {
        for (const violation of await analyze(resource)) all.push({ resource: resource.name, ...violation });
    }
    return all;
}
