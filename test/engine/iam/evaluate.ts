// An IAM policy evaluator for identity-based policies and an optional permissions boundary, good enough to hold the
// requests the stand-in provider records against the CI roles' policies. It follows the IAM User Guide:
// reference_policies_evaluation-logic (an explicit Deny wins; an Allow is needed; a boundary must allow too),
// reference_policies_elements_action / _resource / _condition_operators, reference_policies_condition-single-vs-
// multi-valued-context-keys, and reference_policies_variables.

export interface Statement {
    Sid?: string;
    Effect: "Allow" | "Deny";
    Action?: string | string[];
    NotAction?: string | string[];
    Resource?: string | string[];
    NotResource?: string | string[];
    Condition?: Record<string, Record<string, unknown>>;
}

export interface PolicyDocument {
    Version?: string;
    Statement: Statement | Statement[];
}

/** A policy with the name a decision reports it by (its file, say). */
export interface NamedPolicy {
    name: string;
    document: PolicyDocument;
}

export type ContextValue = string | number | boolean | string[];

export interface Request {
    action: string;
    resource: string;
    /** The request context: condition keys and the principal's keys (aws:username, aws:PrincipalTag/...). */
    context: Record<string, ContextValue>;
}

export interface Decision {
    allowed: boolean;
    /** Why: an explicit deny, an allow, no allow in the identity policies, or no allow in the boundary. */
    reason: "explicitDeny" | "allowed" | "noAllow" | "boundaryNoAllow";
    /** The statement that decided (the deny, or the allow), when one did. */
    statement?: { policy: string; index: number; sid?: string };
    /** One line for a failing test: which action on which resource, and why. */
    explanation: string;
}

/** Reads a policy file, filling its placeholders (ACCOUNT_ID, REGION, STATE_BUCKET, ...) as whole words. */
export function loadPolicy(name: string, text: string, substitutions: Record<string, string>): NamedPolicy {
    let filled = text;
    for (const [placeholder, value] of Object.entries(substitutions)) {
        filled = filled.replace(new RegExp(`(?<![A-Za-z0-9_])${placeholder}(?![A-Za-z0-9_])`, "g"), value);
    }
    const document = JSON.parse(filled) as PolicyDocument;
    const problems = policyProblems(document);
    if (problems.length > 0) throw new Error(`${name} is not a valid IAM policy: ${problems.join("; ")}`);
    return { name, document };
}

const SET_OPERATORS = ["ForAllValues", "ForAnyValue"];
const OPERATORS = [
    "StringEquals", "StringNotEquals", "StringEqualsIgnoreCase", "StringNotEqualsIgnoreCase", "StringLike", "StringNotLike",
    "ArnEquals", "ArnLike", "ArnNotEquals", "ArnNotLike", "Bool", "Null",
    "NumericEquals", "NumericNotEquals", "NumericLessThan", "NumericLessThanEquals", "NumericGreaterThan", "NumericGreaterThanEquals",
];

/** What makes a document one IAM would refuse (reference_policies_grammar); an empty list for a valid one. */
export function policyProblems(document: PolicyDocument): string[] {
    const problems: string[] = [];
    if (document.Version !== undefined && document.Version !== "2012-10-17" && document.Version !== "2008-10-17") {
        problems.push(`unknown Version ${document.Version}`);
    }
    statements(document).forEach((statement, index) => {
        const at = `statement ${statement.Sid ?? index}`;
        if (statement.Effect !== "Allow" && statement.Effect !== "Deny") problems.push(`${at}: Effect must be Allow or Deny`);
        if ((statement.Action === undefined) === (statement.NotAction === undefined)) problems.push(`${at}: needs exactly one of Action, NotAction`);
        if ((statement.Resource === undefined) === (statement.NotResource === undefined)) problems.push(`${at}: needs exactly one of Resource, NotResource`);
        for (const operator of Object.keys(statement.Condition ?? {})) {
            if (!parseOperator(operator)) problems.push(`${at}: unknown condition operator ${operator}`);
        }
    });
    return problems;
}

/** Decides one request: an explicit Deny in any policy wins, then an Allow is needed, and in the boundary too. */
export function evaluate(request: Request, policies: NamedPolicy[], boundary?: NamedPolicy): Decision {
    const what = `${request.action} on ${request.resource}`;
    const all = boundary ? [...policies, boundary] : policies;
    const deny = firstMatch(request, all, "Deny");
    if (deny) return { allowed: false, reason: "explicitDeny", statement: deny, explanation: `${what}: denied by ${describe(deny)}` };
    const allow = firstMatch(request, policies, "Allow");
    if (!allow) return { allowed: false, reason: "noAllow", explanation: `${what}: no statement allows it` };
    if (boundary && !firstMatch(request, [boundary], "Allow")) {
        return { allowed: false, reason: "boundaryNoAllow", explanation: `${what}: the permissions boundary ${boundary.name} does not allow it` };
    }
    return { allowed: true, reason: "allowed", statement: allow, explanation: `${what}: allowed by ${describe(allow)}` };
}

function describe(statement: { policy: string; index: number; sid?: string }): string {
    return `${statement.policy} statement ${statement.sid ?? `#${statement.index}`}`;
}

function statements(document: PolicyDocument): Statement[] {
    return Array.isArray(document.Statement) ? document.Statement : [document.Statement];
}

function firstMatch(request: Request, policies: NamedPolicy[], effect: Statement["Effect"]) {
    for (const policy of policies) {
        const problems = policyProblems(policy.document);
        if (problems.length > 0) throw new Error(`${policy.name} is not a valid IAM policy: ${problems.join("; ")}`);
        const found = statements(policy.document).findIndex((statement) => statement.Effect === effect && matches(statement, request));
        if (found >= 0) return { policy: policy.name, index: found, sid: statements(policy.document)[found].Sid };
    }
    return undefined;
}

const asList = (value: unknown): unknown[] => (Array.isArray(value) ? value : [value]);

function matches(statement: Statement, request: Request): boolean {
    const actionMatches = (patterns: unknown) => asList(patterns).some((p) => globMatch(String(p).toLowerCase(), request.action.toLowerCase()));
    const inActions = statement.Action !== undefined ? actionMatches(statement.Action) : !actionMatches(statement.NotAction);
    if (!inActions) return false;
    const resourceMatches = (patterns: unknown) =>
        asList(patterns).some((p) => {
            const pattern = substitute(String(p), request.context);
            return pattern !== undefined && arnMatch(pattern, request.resource);
        });
    const inResources = statement.Resource !== undefined ? resourceMatches(statement.Resource) : !resourceMatches(statement.NotResource);
    return inResources && conditionsHold(statement.Condition ?? {}, request.context);
}

/** `*` any run of characters, `?` any one character; the rest literal. */
function globMatch(pattern: string, value: string): boolean {
    const regex = pattern.replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*").replace(/\?/g, ".");
    return new RegExp(`^${regex}$`, "s").test(value);
}

/** ARNs match component by component (partition, service, region, account, resource), case-sensitively. */
function arnMatch(pattern: string, arn: string): boolean {
    if (pattern === "*") return true;
    const split = (text: string) => {
        const parts = text.split(":");
        return parts.length < 6 ? undefined : [...parts.slice(0, 5), parts.slice(5).join(":")];
    };
    const p = split(pattern);
    const a = split(arn);
    if (!p || !a) return globMatch(pattern, arn);
    return p.every((part, i) => globMatch(part, a[i]));
}

/**
 * Fills policy variables: ${key}, ${key, 'default'}, and the special ${*}, ${?}, ${$}. A variable whose key the
 * request does not carry, with no default, makes the value unusable: undefined (the element does not match).
 */
function substitute(text: string, context: Request["context"]): string | undefined {
    let missing = false;
    const filled = text.replace(/\$\{([^}]+)\}/g, (_whole, body: string) => {
        const [key, fallback] = body.split(/,\s*/);
        if (key === "*" || key === "?" || key === "$") return key;
        const value = lookup(context, key.trim());
        if (typeof value === "string" || typeof value === "number" || typeof value === "boolean") return String(value);
        const quoted = /^'(.*)'$/.exec(fallback?.trim() ?? "");
        if (quoted) return quoted[1];
        missing = true;
        return "";
    });
    return missing ? undefined : filled;
}

/** Condition keys are case-insensitive (reference_policies_elements_condition). */
function lookup(context: Request["context"], key: string): ContextValue | undefined {
    const found = Object.keys(context).find((name) => name.toLowerCase() === key.toLowerCase());
    return found === undefined ? undefined : context[found];
}

interface Operator {
    set?: "ForAllValues" | "ForAnyValue";
    base: string;
    ifExists: boolean;
    negated: boolean;
}

function parseOperator(text: string): Operator | undefined {
    const [first, second] = text.split(":");
    const set = second === undefined ? undefined : first;
    const name = second ?? first;
    if (set !== undefined && !SET_OPERATORS.includes(set)) return undefined;
    const ifExists = name.endsWith("IfExists");
    const base = ifExists ? name.slice(0, -"IfExists".length) : name;
    if (!OPERATORS.includes(base) || (base === "Null" && ifExists)) return undefined;
    return { set: set as Operator["set"], base, ifExists, negated: /Not(Equals|Like)/.test(base) };
}

/** Every operator, and every key under it, must hold (a logical AND); several policy values for a key are an OR. */
function conditionsHold(condition: NonNullable<Statement["Condition"]>, context: Request["context"]): boolean {
    return Object.entries(condition).every(([text, keys]) => {
        const operator = parseOperator(text) as Operator;
        return Object.entries(keys).every(([key, policyValues]) => keyHolds(operator, lookup(context, key), asList(policyValues), context));
    });
}

function keyHolds(operator: Operator, value: ContextValue | undefined, policyValues: unknown[], context: Request["context"]): boolean {
    if (operator.base === "Null") return policyValues.some((v) => String(v).toLowerCase() === String(value === undefined));
    if (value === undefined) {
        // A missing key: only IfExists and negated operators hold, and ForAllValues over no values holds
        // (reference_policies_condition_operators; condition-single-vs-multi-valued-context-keys).
        if (operator.set === "ForAllValues") return true;
        if (operator.set === "ForAnyValue") return false;
        return operator.ifExists || operator.negated;
    }
    const values = asList(value);
    const positive = (single: unknown) => policyValues.some((policyValue) => compare(operator.base, single, policyValue, context));
    // A negated operator holds for a value that matches none of the policy values.
    const holds = (single: unknown) => (operator.negated ? !positive(single) : positive(single));
    if (operator.set === "ForAllValues") return values.every(holds);
    if (operator.set === "ForAnyValue") return values.some(holds);
    return operator.negated ? values.every(holds) : values.some(holds);
}

/** The positive form of each operator on one context value and one policy value. */
function compare(base: string, value: unknown, policyValue: unknown, context: Request["context"]): boolean {
    const positiveBase = base.replace("Not", "");
    if (positiveBase.startsWith("Numeric")) {
        const [a, b] = [Number(value), Number(policyValue)];
        if (Number.isNaN(a) || Number.isNaN(b)) return false;
        const numeric: Record<string, boolean> = {
            NumericEquals: a === b,
            NumericLessThan: a < b,
            NumericLessThanEquals: a <= b,
            NumericGreaterThan: a > b,
            NumericGreaterThanEquals: a >= b,
        };
        return numeric[positiveBase];
    }
    if (positiveBase === "Bool") return String(value).toLowerCase() === String(policyValue).toLowerCase();
    const expected = substitute(String(policyValue), context);
    if (expected === undefined) return false;
    const actual = String(value);
    switch (positiveBase) {
        case "StringEquals":
            return actual === expected;
        case "StringEqualsIgnoreCase":
            return actual.toLowerCase() === expected.toLowerCase();
        case "StringLike":
            return globMatch(expected, actual);
        case "ArnEquals":
        case "ArnLike":
            return arnMatch(expected, actual);
        default:
            throw new Error(`unsupported condition operator ${base}`);
    }
}
