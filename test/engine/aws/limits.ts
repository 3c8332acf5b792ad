// AWS's documented limits on what the program sends, as pure checks the stand-in provider runs in its check call, so
// an input real AWS would refuse fails the same way. Each limit sits beside its source: an AWS document (by page) or a
// terraform-provider-aws validation the real provider applies before calling AWS.
import { unknown as unknownValue } from "../provider/server";

export interface Violation {
    property: string;
    reason: string;
}

/** Where the resource lives: an SSM parameter's length limit counts its ARN. */
export interface Place {
    partition: string;
    region: string;
    accountId: string;
}

type Inputs = Record<string, unknown>;
type Check = (inputs: Inputs, place: Place) => Violation[];

/** A limit with its source; `reason` says what was found. */
function violation(property: string, found: string, limit: string, source: string): Violation {
    return { property, reason: `${found}; ${limit} (${source})` };
}

const bytes = (text: string) => Buffer.byteLength(text, "utf8");
const characters = (text: string) => [...text].length;
/** IAM counts a policy's size without its white space (IAM User Guide, reference_iam-quotas). */
const policySize = (policy: string) => policy.replace(/\s/g, "").length;

/** A string the engine knows (a preview may not): the real provider checks a value only once it is known. */
const knownString = (value: unknown): value is string => typeof value === "string" && value !== unknownValue;

function maxLength(property: string, value: unknown, max: number, source: string, count = characters): Violation[] {
    if (!knownString(value) || count(value) <= max) return [];
    const unit = count === bytes ? "bytes" : "characters";
    return [violation(property, `${count(value)} ${unit}`, `at most ${max} allowed`, source)];
}

function pattern(property: string, value: unknown, regex: RegExp, described: string, source: string): Violation[] {
    if (!knownString(value) || regex.test(value)) return [];
    return [violation(property, JSON.stringify(value), `must be ${described}`, source)];
}

function range(property: string, value: unknown, min: number, max: number, source: string): Violation[] {
    if (typeof value !== "number" || (Number.isInteger(value) && value >= min && value <= max)) return [];
    return [violation(property, String(value), `must be an integer from ${min} to ${max}`, source)];
}

// Tags: 50 user tags a resource, keys up to 128 and values up to 256 characters, and the aws: prefix reserved
// (Tagging AWS Resources user guide, "Tag naming limits and requirements"; the same for EC2, IAM, KMS and SSM).
const TAGGING = "Tagging AWS Resources, tag naming limits and requirements";
function tagLimits(property: string, tags: unknown): Violation[] {
    if (typeof tags !== "object" || tags === null) return [];
    const entries = Object.entries(tags as Record<string, unknown>);
    const found: Violation[] = [];
    if (entries.length > 50) found.push(violation(property, `${entries.length} tags`, "at most 50 allowed", TAGGING));
    for (const [key, value] of entries) {
        found.push(...maxLength(`${property}.${key}`, key, 128, `${TAGGING}: key`));
        found.push(...maxLength(`${property}.${key}`, value, 256, `${TAGGING}: value`));
        if (key.toLowerCase().startsWith("aws:")) {
            found.push(violation(`${property}.${key}`, "key starts with aws:", "the prefix is reserved for AWS", TAGGING));
        }
    }
    return found;
}

// EC2 user data: "limited to 16 KB, in raw form, before it is base64-encoded" (EC2 User Guide,
// instancedata-add-user-data); terraform-provider-aws ec2_instance.go also refuses user_data over 16384.
const USER_DATA_BYTES = 16384;
const USER_DATA = "EC2 User Guide, instancedata-add-user-data";
function userDataLimits(inputs: Inputs): Violation[] {
    const found = maxLength("userData", inputs.userData, USER_DATA_BYTES, USER_DATA, bytes);
    const encoded = inputs.userDataBase64;
    if (knownString(encoded)) {
        if (!/^[A-Za-z0-9+/]*={0,2}$/.test(encoded) || encoded.length % 4 !== 0) {
            found.push(violation("userDataBase64", "not base64", "must be base64-encoded", "ec2_instance.go"));
        } else {
            const raw = Buffer.from(encoded, "base64").length;
            if (raw > USER_DATA_BYTES) {
                found.push(violation("userDataBase64", `${raw} bytes decoded`, `at most ${USER_DATA_BYTES} allowed`, USER_DATA));
            }
        }
    }
    return found;
}

// IAM names and paths (IAM API Reference, CreateRole/CreatePolicy/CreateInstanceProfile/PutRolePolicy; IAM User
// Guide, reference_iam-quotas).
const IAM_API = "IAM API Reference";
const IAM_QUOTAS = "IAM User Guide, reference_iam-quotas";
const iamName = (property: string, value: unknown, max: number, action: string) => [
    ...maxLength(property, value, max, `${IAM_API}, ${action}`),
    ...pattern(property, value, /^[\w+=,.@-]+$/, "letters, digits and +=,.@_-", `${IAM_API}, ${action}`),
];
const iamPath = (value: unknown) => [
    ...maxLength("path", value, 512, IAM_API),
    ...pattern("path", value, /^(\/|\/[\u0021-\u007e]+\/)$/, "/ or /text/ of printable ASCII", IAM_API),
];
/** Policy documents hold only tab, line feed, carriage return and U+0020 to U+00FF (reference_iam-quotas). */
const policyCharacters = (property: string, value: unknown) =>
    pattern(property, value, /^[\t\n\r\u0020-\u00ff]*$/, "tab, LF, CR or U+0020 to U+00FF only", IAM_QUOTAS);
function policyLimit(property: string, value: unknown, max: number, what: string): Violation[] {
    if (typeof value !== "string") return [];
    const size = policySize(value);
    const limit = `${what} may have at most ${max} characters without white space`;
    return size > max ? [violation(property, `${size} characters`, limit, IAM_QUOTAS)] : [];
}

/** A role's inline policies together: "Role policy size cannot exceed 10,240 characters" (reference_iam-quotas). */
export const ROLE_INLINE_POLICIES_MAX = 10240;
export function roleInlinePolicies(policies: string[]): Violation[] {
    const size = policies.reduce((total, policy) => total + policySize(policy), 0);
    if (size <= ROLE_INLINE_POLICIES_MAX) return [];
    const limit = `a role's inline policies together may have at most ${ROLE_INLINE_POLICIES_MAX} characters without white space`;
    return [violation("policy", `${size} characters`, limit, IAM_QUOTAS)];
}

// SSM parameters (Systems Manager User Guide, sysman-parameter-name-constraints and parameter-store-advanced-parameters;
// API_PutParameter).
const SSM_NAMES = "Systems Manager User Guide, sysman-parameter-name-constraints";
const SSM_TIERS = "Systems Manager User Guide, parameter-store-advanced-parameters";
/** The name plus the ARN before it: "The maximum length for a parameter name that you create is 1011 characters". */
export const PARAMETER_ARN_NAME_MAX = 1011;
function parameterLimits(inputs: Inputs, place: Place): Violation[] {
    const found: Violation[] = [];
    const name = inputs.name;
    if (typeof name === "string") {
        const arn = `arn:${place.partition}:ssm:${place.region}:${place.accountId}:parameter${name.startsWith("/") ? "" : "/"}${name}`;
        if (arn.length > PARAMETER_ARN_NAME_MAX) {
            found.push(violation("name", `${arn.length} characters with its ARN`, `at most ${PARAMETER_ARN_NAME_MAX} allowed`, SSM_NAMES));
        }
        found.push(...pattern("name", name, /^[a-zA-Z0-9_.\-/]+$/, "a-zA-Z0-9_.- and / only", SSM_NAMES));
        if (/^\/?(aws|ssm)/i.test(name)) found.push(violation("name", name, "must not start with aws or ssm", SSM_NAMES));
        const levels = name.replace(/^\//, "").split("/").length;
        if (levels > 15) found.push(violation("name", `${levels} levels`, "at most 15 allowed", SSM_NAMES));
    }
    const advanced = inputs.tier === "Advanced" || inputs.tier === "Intelligent-Tiering";
    found.push(...maxLength("value", inputs.value, advanced ? 8192 : 4096, `${SSM_TIERS}: ${advanced ? "advanced 8 KB" : "standard 4 KB"}`, bytes));
    found.push(...maxLength("description", inputs.description, 1024, "API_PutParameter; parameter.go"));
    if (inputs.type === "SecureString" && inputs.keyId !== undefined) {
        // KeyId: a key ID, key ARN, alias name or alias ARN (API_PutParameter).
        const key = /^([0-9a-f-]{36}|mrk-[0-9a-f]{32}|alias\/[a-zA-Z0-9/_-]+|arn:[^:]+:kms:[^:]+:\d{12}:(key\/[\w-]+|alias\/[a-zA-Z0-9/_-]+))$/;
        found.push(...pattern("keyId", inputs.keyId, key, "a KMS key ID, key ARN, alias name or alias ARN", "API_PutParameter"));
    }
    return found;
}

// SSM documents: "Maximum size of an SSM document: 64 KB" (AWS General Reference, ssm service quotas); names
// (API_CreateDocument: [a-zA-Z0-9_\-.]{3,128}, and the prefixes aws, amazon, amzn are reserved).
const DOCUMENT_BYTES = 65536;
function documentLimits(inputs: Inputs): Violation[] {
    return [
        ...maxLength("content", inputs.content, DOCUMENT_BYTES, "AWS General Reference, Systems Manager quotas: 64 KB", bytes),
        ...pattern("name", inputs.name, /^[a-zA-Z0-9_\-.]{3,128}$/, "3 to 128 of a-zA-Z0-9_-.", "API_CreateDocument"),
        ...(typeof inputs.name === "string" && /^(aws|amazon|amzn)/i.test(inputs.name)
            ? [violation("name", inputs.name, "must not start with aws, amazon or amzn", "API_CreateDocument")]
            : []),
    ];
}

// Associations (terraform-provider-aws internal/service/ssm/association.go validations, as API_CreateAssociation).
const ASSOCIATION = "association.go; API_CreateAssociation";
function associationLimits(inputs: Inputs): Violation[] {
    const targets = Array.isArray(inputs.targets) ? (inputs.targets as { values?: unknown[] }[]) : [];
    return [
        ...pattern("associationName", inputs.associationName, /^[a-zA-Z0-9_\-.]{3,128}$/, "3 to 128 of a-zA-Z0-9_-.", ASSOCIATION),
        ...pattern("maxConcurrency", inputs.maxConcurrency, /^([1-9][0-9]*|[1-9][0-9]%|[1-9]%|100%)$/, "a count or a percentage", ASSOCIATION),
        ...pattern("maxErrors", inputs.maxErrors, /^([1-9][0-9]*|0|[1-9][0-9]%|[0-9]%|100%)$/, "a count or a percentage", ASSOCIATION),
        ...(targets.length > 5 ? [violation("targets", `${targets.length} targets`, "at most 5 allowed", ASSOCIATION)] : []),
        ...targets.flatMap((target, index) =>
            (target.values?.length ?? 0) > 50
                ? [violation(`targets[${index}].values`, `${target.values?.length} values`, "at most 50 allowed", ASSOCIATION)]
                : [],
        ),
    ];
}

/**
 * An association's parameters against its document: only parameters the document declares, and every declared one
 * without a default (API_CreateAssociation, InvalidParameters: "You must specify values for all required
 * parameters"; a parameter the document does not define is invalid).
 */
export function associationParameters(documentContent: string, parameters: Record<string, unknown>): Violation[] {
    const declared = (JSON.parse(documentContent).parameters ?? {}) as Record<string, { default?: unknown }>;
    const found: Violation[] = [];
    for (const name of Object.keys(parameters)) {
        if (!(name in declared)) found.push(violation(`parameters.${name}`, "not declared by the document", "InvalidParameters", "API_CreateAssociation"));
    }
    for (const [name, definition] of Object.entries(declared)) {
        if (definition.default === undefined && !(name in parameters)) {
            found.push(violation(`parameters.${name}`, "missing", "the document requires it (InvalidParameters)", "API_CreateAssociation"));
        }
    }
    return found;
}

// KMS: "Key policy document size: 32 KB (32,768 bytes)" (KMS Developer Guide, resource-limits); description up to
// 8192 characters (key.go); aliases "alias/" then [a-zA-Z0-9/_-], up to 256, alias/aws/ reserved (API_CreateAlias).
function keyLimits(inputs: Inputs): Violation[] {
    return [
        ...maxLength("policy", inputs.policy, 32768, "KMS Developer Guide, resource-limits: key policy 32 KB", bytes),
        ...maxLength("description", inputs.description, 8192, "API_CreateKey; key.go"),
        ...range("deletionWindowInDays", inputs.deletionWindowInDays, 7, 30, "API_ScheduleKeyDeletion; key.go"),
        ...range("rotationPeriodInDays", inputs.rotationPeriodInDays, 90, 2560, "API_EnableKeyRotation; key.go"),
    ];
}
function aliasLimits(inputs: Inputs): Violation[] {
    const name = inputs.name;
    return [
        ...maxLength("name", name, 256, "API_CreateAlias"),
        ...pattern("name", name, /^alias\/[a-zA-Z0-9/_-]+$/, "alias/ then a-zA-Z0-9/_-", "API_CreateAlias"),
        ...(typeof name === "string" && name.startsWith("alias/aws/")
            ? [violation("name", name, "alias/aws/ is reserved for AWS managed keys", "API_CreateAlias")]
            : []),
    ];
}

// Security groups in a VPC: names and descriptions up to 255 characters of a-z, A-Z, 0-9, spaces and
// ._-:/()#,@[]+=&;{}!$*, and a name may not start with sg- (API_CreateSecurityGroup); rule descriptions the same
// characters (API_IpRange); ports -1 to 65535 (vpc_security_group_ingress_rule.go).
const GROUP_CHARACTERS = /^[a-zA-Z0-9 ._\-:/()#,@[\]+=&;{}!$*]*$/;
const GROUP_TEXT = "a-zA-Z0-9, spaces and ._-:/()#,@[]+=&;{}!$*";
function groupText(property: string, value: unknown, source: string): Violation[] {
    return [...maxLength(property, value, 255, source), ...pattern(property, value, GROUP_CHARACTERS, GROUP_TEXT, source)];
}
function securityGroupLimits(inputs: Inputs): Violation[] {
    return [
        ...groupText("name", inputs.name, "API_CreateSecurityGroup"),
        ...(typeof inputs.name === "string" && inputs.name.startsWith("sg-")
            ? [violation("name", inputs.name, "must not start with sg-", "API_CreateSecurityGroup")]
            : []),
        ...groupText("description", inputs.description, "API_CreateSecurityGroup"),
    ];
}
function securityGroupRuleLimits(inputs: Inputs): Violation[] {
    const sources = ["cidrIpv4", "cidrIpv6", "prefixListId", "referencedSecurityGroupId"].filter((key) => inputs[key] !== undefined);
    return [
        ...groupText("description", inputs.description, "API_IpRange"),
        ...range("fromPort", inputs.fromPort, -1, 65535, "vpc_security_group_ingress_rule.go"),
        ...range("toPort", inputs.toPort, -1, 65535, "vpc_security_group_ingress_rule.go"),
        ...(sources.length === 1
            ? []
            : [violation("cidrIpv4", `${sources.length} sources set`, "exactly one of cidrIpv4, cidrIpv6, prefixListId, referencedSecurityGroupId", "vpc_security_group_ingress_rule.go ConfigValidators")]),
    ];
}

// Route 53: a domain name up to 255 bytes, each label up to 63 (Route 53 Developer Guide, DomainNameFormat); TTL
// 0 to 2147483647 seconds (API_ResourceRecordSet).
function recordLimits(inputs: Inputs): Violation[] {
    const name = typeof inputs.name === "string" ? inputs.name.replace(/\.$/, "") : undefined;
    const labels = name?.split(".").filter((label) => bytes(label) > 63) ?? [];
    return [
        ...maxLength("name", name, 255, "Route 53 Developer Guide, DomainNameFormat", bytes),
        ...labels.map((label) => violation("name", `label ${label} is ${bytes(label)} bytes`, "a label may have at most 63", "Route 53 Developer Guide, DomainNameFormat")),
        ...range("ttl", inputs.ttl, 0, 2147483647, "API_ResourceRecordSet"),
    ];
}

const withTags = (check?: Check): Check => (inputs, place) => [...(check?.(inputs, place) ?? []), ...tagLimits("tags", inputs.tags)];

/** The checks of each resource type, on the inputs the engine sends. */
export const limitChecks: Record<string, Check> = {
    "aws:iam/role:Role": withTags((inputs) => [
        ...iamName("name", inputs.name, 64, "CreateRole"),
        ...iamPath(inputs.path),
        ...maxLength("description", inputs.description, 1000, `${IAM_API}, CreateRole`),
        ...pattern("description", inputs.description, /^[\t\n\r\u0020-\u007e\u00a1-\u00ff]*$/, "tab, LF, CR, printable ASCII or U+00A1 to U+00FF", `${IAM_API}, CreateRole`),
        ...policyCharacters("assumeRolePolicy", inputs.assumeRolePolicy),
        ...policyLimit("assumeRolePolicy", inputs.assumeRolePolicy, 2048, "a role trust policy (default quota)"),
    ]),
    "aws:iam/rolePolicy:RolePolicy": (inputs) => [
        ...iamName("name", inputs.name, 128, "PutRolePolicy"),
        ...policyCharacters("policy", inputs.policy),
        ...(typeof inputs.policy === "string" ? roleInlinePolicies([inputs.policy]) : []),
    ],
    "aws:iam/rolePolicyAttachment:RolePolicyAttachment": () => [],
    "aws:iam/policy:Policy": withTags((inputs) => [
        ...iamName("name", inputs.name, 128, "CreatePolicy"),
        ...iamPath(inputs.path),
        ...maxLength("description", inputs.description, 1000, `${IAM_API}, CreatePolicy`),
        ...policyCharacters("policy", inputs.policy),
        ...policyLimit("policy", inputs.policy, 6144, "a managed policy"),
    ]),
    "aws:iam/instanceProfile:InstanceProfile": withTags((inputs) => [
        ...iamName("name", inputs.name, 128, "CreateInstanceProfile"),
        ...iamPath(inputs.path),
    ]),
    "aws:kms/key:Key": withTags(keyLimits),
    "aws:kms/alias:Alias": aliasLimits,
    "aws:ssm/parameter:Parameter": withTags(parameterLimits),
    "aws:ssm/document:Document": withTags(documentLimits),
    "aws:ssm/association:Association": withTags(associationLimits),
    "aws:ec2/instance:Instance": (inputs) => [
        ...userDataLimits(inputs),
        ...tagLimits("tags", inputs.tags),
        ...tagLimits("volumeTags", inputs.volumeTags),
    ],
    "aws:ec2/securityGroup:SecurityGroup": withTags(securityGroupLimits),
    "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule": withTags(securityGroupRuleLimits),
    "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule": withTags(securityGroupRuleLimits),
    "aws:ec2/eip:Eip": withTags(),
    "aws:ec2/eipAssociation:EipAssociation": () => [],
    "aws:route53/record:Record": recordLimits,
};

/** Every limit the inputs of one resource break; a type without checks is an error, not a pass. */
export function checkLimits(type: string, inputs: Inputs, place: Place): Violation[] {
    const check = limitChecks[type];
    if (!check) throw new Error(`no limit checks for ${type}`);
    return check(inputs, place);
}
