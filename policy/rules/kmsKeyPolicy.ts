import * as aws from "@pulumi/aws";
import { ResourceValidationPolicy } from "@pulumi/policy";
import { reportViolationsOf } from "../report";

/** The KMS actions that hand out plaintext, or a data key to decrypt later: what must stay with the hosts. */
export const decryptClassActions = [
    "kms:Decrypt",
    "kms:ReEncryptFrom",
    "kms:ReEncryptTo",
    "kms:GenerateDataKey",
    "kms:GenerateDataKeyWithoutPlaintext",
    "kms:GenerateDataKeyPair",
    "kms:GenerateDataKeyPairWithoutPlaintext",
];

/** The KMS actions that hand out the others: whoever may change the key policy or grant may give itself Decrypt. */
export const grantClassActions = ["kms:PutKeyPolicy", "kms:CreateGrant"];

interface Statement {
    Sid?: string;
    Effect?: string;
    Principal?: unknown;
    NotPrincipal?: unknown;
    Action?: string | string[];
    NotAction?: string | string[];
    Condition?: Record<string, Record<string, unknown>>;
}

const list = <T>(value: T | T[] | undefined): T[] =>
    value === undefined ? [] : Array.isArray(value) ? value : [value];

/** IAM action matching: case-insensitive, `*` for any run of characters, `?` for one. */
function actionMatches(pattern: string, action: string): boolean {
    const regex = pattern
        .replace(/[.+^${}()|[\]\\]/g, "\\$&")
        .replace(/\*/g, ".*")
        .replace(/\?/g, ".");
    return new RegExp(`^${regex}$`, "i").test(action);
}

/** The statement's own action entries that grant one of `actions`, or "every action except …" for NotAction. */
function grantedActions(statement: Statement, actions: string[]): string | undefined {
    if (statement.Action !== undefined) {
        const granting = list(statement.Action).filter((pattern) => actions.some((action) => actionMatches(pattern, action)));
        return granting.length > 0 ? granting.join(", ") : undefined;
    }
    const excluded = list(statement.NotAction);
    const granted = actions.filter((action) => !excluded.some((pattern) => actionMatches(pattern, action)));
    return granted.length > 0 ? `every action but ${excluded.join(", ")} (so ${granted.join(", ")})` : undefined;
}

/** Every principal of a statement as text: "*" for anyone, else the ARNs, account ids and service names. */
function principalsOf(statement: Statement): string[] {
    if (statement.NotPrincipal !== undefined) return ["*"];
    const principal = statement.Principal;
    if (principal === "*") return ["*"];
    if (principal === null || typeof principal !== "object") return [];
    return Object.values(principal as Record<string, unknown>).flatMap((value) => list(value).map(String));
}

/** An account's root: the bare account id or arn:<partition>:iam::<account>:root. */
function isAccountRoot(principal: string): boolean {
    return /^\d{12}$/.test(principal) || /^arn:[a-z-]+:iam::\d{12}:root$/.test(principal);
}

/** The kms:ViaService values that limit the statement, under an operator that requires them (no IfExists). */
function viaServiceValues(statement: Statement): string[] {
    const values: string[] = [];
    for (const [operator, keys] of Object.entries(statement.Condition ?? {})) {
        if (!["stringequals", "stringlike"].includes(operator.toLowerCase())) continue;
        for (const [key, value] of Object.entries(keys ?? {})) {
            if (key.toLowerCase() === "kms:viaservice") values.push(...list(value).map(String));
        }
    }
    return values;
}

const ssmService = /^ssm\.[a-z0-9*-]+\.amazonaws\.com$/;
const viaSsmFix =
    'add "Condition": {"StringEquals": {"kms:ViaService": "ssm.<region>.amazonaws.com"}} so the key decrypts only ' +
    "through SSM, for the parameters that principal may read.";

/** The problems of one Allow statement that grants a decrypt-class action, or a grant-class one to everybody. */
function statementViolations(statement: Statement, index: number): string[] {
    if (statement.Effect !== "Allow") return [];
    const name = statement.Sid ? `statement "${statement.Sid}"` : `statement ${index}`;
    const principals = principalsOf(statement);
    const violations: string[] = [];
    const granting = grantedActions(statement, grantClassActions);
    for (const who of principals.filter((principal) => principal === "*" || isAccountRoot(principal))) {
        if (!granting) break;
        const named = who === "*" ? 'any principal ("*")' : `the account root (${who})`;
        violations.push(
            `${name} lets ${named} use ${granting}, with which any IAM principal of the account whose own policy ` +
                "allows it can give itself kms:Decrypt: leave changing the key policy and granting to the deployers.",
        );
    }
    const actions = grantedActions(statement, decryptClassActions);
    if (!actions) return violations;
    if (principals.includes("*")) {
        violations.push(
            `${name} lets any principal ("*") use ${actions}: name the roles that need the key (the hosts' roles, ` +
                "the deployer) as principals instead.",
        );
    }
    for (const root of principals.filter(isAccountRoot)) {
        violations.push(
            `${name} lets the account root (${root}) use ${actions}, which hands the key to every IAM principal of ` +
                "the account whose own policy allows it: keep the root to managing the key, and grant decrypt-class " +
                "actions to the roles that need them.",
        );
    }
    const via = viaServiceValues(statement);
    if (via.length === 0) {
        violations.push(
            `${name} lets ${principals.join(", ") || "its principal"} use ${actions} without a kms:ViaService ` +
                `condition: ${viaSsmFix}`,
        );
    } else if (!via.every((service) => ssmService.test(service))) {
        violations.push(
            `${name} lets ${principals.join(", ")} use ${actions} through ${via.join(", ")}, not SSM: ${viaSsmFix}`,
        );
    }
    return violations;
}

/**
 * A key policy lets nobody use the key's plaintext outside SSM: no statement grants a decrypt-class action to `*`, to
 * the account root, or to any principal without a kms:ViaService condition naming SSM; nor kms:PutKeyPolicy or
 * kms:CreateGrant to `*` or the account root, which would let IAM policies hand out Decrypt. An unset policy gets
 * KMS's default key policy, which grants the account root kms:*.
 */
export function keyPolicyViolations(key: { policy?: string }): string[] {
    if (key.policy === undefined || key.policy === "") {
        return [
            "policy is not set: KMS then applies its default key policy, which lets the account root use kms:* and " +
                "so every IAM principal of the account whose own policy allows it; set a policy that lets only the " +
                "hosts' roles (and the deployer) decrypt, through SSM.",
        ];
    }
    let document: { Statement?: Statement | Statement[] };
    try {
        document = JSON.parse(key.policy);
    } catch {
        return ["policy is not valid JSON: pass the key policy as JSON.stringify() of the policy document."];
    }
    return list(document?.Statement).flatMap((statement, index) => statementViolations(statement, index));
}

export const kmsKeyPolicyLimitsDecrypt: ResourceValidationPolicy = {
    name: "kms-key-policy-limits-decrypt",
    description:
        "KMS key policies let no one decrypt outside SSM: no statement grants kms:Decrypt, kms:ReEncrypt*, " +
        'kms:GenerateDataKey*, kms:* or * to "*", to the account root, or without a kms:ViaService condition ' +
        'naming SSM; and neither "*" nor the account root may change the key policy or create grants.',
    enforcementLevel: "mandatory",
    validateResource: [
        reportViolationsOf(aws.kms.Key, keyPolicyViolations),
        reportViolationsOf(aws.kms.KeyPolicy, keyPolicyViolations),
    ],
};
