// Holds what the rig's runs needed from AWS against the CI roles' policies (.github/aws/*.json): the requests the real
// provider makes for each operation (test/engine/aws/actions.ts) and the calls the release waits really made.
import * as fs from "fs";
import * as path from "path";
import { root } from "../mocks";
import { AuthorizationRequest } from "./aws/actions";
import { RecordedCall } from "./cloud/front";
import { region } from "./cloud/cloud";
import { evaluate, loadPolicy, NamedPolicy } from "./iam/evaluate";
import { Run } from "./rig";

export const account = "123456789012";

/** The placeholders of the policy files, as docs/ci-cd.md names them, filled for the rig's account. */
const substitutions = {
    ACCOUNT_ID: account,
    REGION: region,
    STATE_BUCKET: "microservices-state",
    STATE_KEY_ID: "00000000-0000-0000-0000-000000000000",
    OWNER: "octocat",
    REPOSITORY_ID: "1",
};

export function policyFile(name: string): NamedPolicy {
    const file = path.join(root, ".github", "aws", `${name}.json`);
    return loadPolicy(name, fs.readFileSync(file, "utf8"), substitutions);
}

/**
 * The IAM requests of the waits' own calls. Resources per the Service Authorization Reference (Systems Manager):
 * DescribeInstanceInformation and ListAssociations take none; GetParameter and DeleteParameter a parameter;
 * StartAssociationsOnce an association.
 */
function waitRequests(call: RecordedCall): AuthorizationRequest[] {
    const arn = (kind: string, name: string) => `arn:aws:ssm:${region}:${account}:${kind}/${name.replace(/^\//, "")}`;
    switch (call.action) {
        case "ssm:GetParameter":
        case "ssm:DeleteParameter":
            return [{ action: call.action, resources: [arn("parameter", String(call.params.Name))], context: {}, call: call.action }];
        case "ssm:StartAssociationsOnce":
            return (call.params.AssociationIds as string[]).map((id) => ({
                action: call.action,
                resources: [arn("association", id)],
                context: {},
                call: call.action,
            }));
        case "ssm:DescribeInstanceInformation":
        case "ssm:ListAssociations":
            return [{ action: call.action, resources: ["*"], context: {}, call: call.action }];
        default:
            throw new Error(`the rig does not know the IAM request of the waits' call ${call.action}`);
    }
}

/**
 * The API calls the runs made, each as the IAM requests it needs (one per action and resource): a call goes through
 * only if all of them are allowed. Requests of one operation made by the same API call are one call.
 */
export function callsOf(runs: Run[]): AuthorizationRequest[][] {
    const calls: AuthorizationRequest[][] = [];
    for (const run of runs) {
        for (const operation of run.operations) {
            const byCall = new Map<string, AuthorizationRequest[]>();
            for (const request of operation.requests) byCall.set(request.call, [...(byCall.get(request.call) ?? []), request]);
            calls.push(...byCall.values());
        }
        calls.push(...run.waits.map(waitRequests));
    }
    return calls;
}

/** Every request the runs needed, the provider's and the waits'. */
export function requestsOf(runs: Run[]): AuthorizationRequest[] {
    return runs.flatMap((run) => [...run.operations.flatMap((operation) => operation.requests), ...run.waits.flatMap(waitRequests)]);
}

/**
 * What a KMS key's own policy says about a principal, as two identity policies: the statements that name the principal
 * (they allow by themselves), and those that name the account root (they allow only what the principal's IAM
 * policies allow too). Resource "*" in a key policy means the key itself.
 */
function keyPolicyFor(keyArn: string, text: string, principalArn: string) {
    const document = JSON.parse(text) as { Statement: Record<string, unknown>[] };
    const principals = (statement: Record<string, unknown>): string[] => {
        const principal = statement.Principal as { AWS?: string | string[] } | string | undefined;
        if (principal === "*") return ["*"];
        const aws = typeof principal === "object" ? principal.AWS : undefined;
        return aws === undefined ? [] : Array.isArray(aws) ? aws : [aws];
    };
    const named = (match: (arn: string) => boolean) =>
        loadPolicy(
            `key policy of ${keyArn}`,
            JSON.stringify({
                Version: "2012-10-17",
                Statement: document.Statement.filter((statement) => principals(statement).some(match)).map(
                    ({ Principal: _principal, ...statement }) => ({ ...statement, Resource: keyArn }),
                ),
            }),
            {},
        );
    const root = `arn:aws:iam::${account}:root`;
    return { direct: named((arn) => arn === principalArn || arn === "*"), delegated: named((arn) => arn === root || arn === account) };
}

/** How a role is allowed: its IAM policies, an optional boundary, and the KMS keys' own policies (by key ARN). */
export interface Role {
    arn: string;
    policies: NamedPolicy[];
    boundary?: NamedPolicy;
    keyPolicies?: Map<string, string>;
}

/**
 * The requests a role may not make, one line each: the action, the resource and why. A KMS request on a key is
 * decided with the key policy too, as KMS does: the key policy alone may allow it, or delegate it to the account and
 * leave it to IAM.
 */
export function refused(requests: AuthorizationRequest[], role: Role): string[] {
    const lines = new Set<string>();
    for (const request of requests) {
        if (request.noPolicyNeeded) continue;
        for (const resource of request.resources) {
            const asked = { action: request.action, resource, context: request.context };
            const identity = evaluate(asked, role.policies, role.boundary);
            const keyPolicy = role.keyPolicies?.get(resource);
            if (keyPolicy !== undefined) {
                const { direct, delegated } = keyPolicyFor(resource, keyPolicy, role.arn);
                const byKey = evaluate(asked, [direct]);
                const byAccount = evaluate(asked, [delegated]);
                if (byKey.allowed || (byAccount.allowed && identity.allowed)) continue;
                lines.add(`${request.action} on ${resource}: the key policy neither allows ${role.arn} nor delegates it to IAM (made by ${request.call})`);
                continue;
            }
            if (!identity.allowed) lines.add(`${identity.explanation} (made by ${request.call})`);
        }
    }
    return [...lines].sort();
}
