// What the real pulumi-aws provider (v7.48.0, a bridge over terraform-provider-aws) does with each input of the
// resource types the program uses: which changes force a replacement (ForceNew in the terraform schema), which
// outputs the provider computes, and which property it autonames when unset. The stand-in provider diffs with these
// tables and refuses an input they do not know.
//
// Sources, by path in hashicorp/terraform-provider-aws unless marked otherwise; "pulumi-aws" is pulumi/pulumi-aws.
// The stored copies read were not all at the tag pulumi-aws v7.48.0 wraps: see the report for which were older.

/** A change of one input, as the provider's diff sees it. */
export interface PropertyRule {
    /** A change of this input replaces the resource. */
    forceNew: boolean;
    /** Replacement that depends on other inputs (a terraform CustomizeDiff), checked when the input changed. */
    replacesWhen?: (olds: Inputs, news: Inputs) => boolean;
    /** Fields of an object input (a terraform block with MaxItems 1, which Pulumi passes as one object). */
    fields?: Record<string, PropertyRule>;
    source: string;
}

/** How the bridge names a resource whose name is unset: `<prefix><logical name>-<7 random hex>`. */
export interface Autoname {
    property: string;
    /** Longest `<logical name>-<random>` the bridge accepts (before `prefix`); a longer one fails the check. */
    maxLength: number;
    prefix?: string;
    source: string;
}

export interface ResourceRule {
    /** The terraform resource behind the Pulumi type. */
    terraformType: string;
    inputs: Record<string, PropertyRule>;
    /** Outputs the provider computes (besides `id`). */
    computed: string[];
    autoname?: Autoname;
    /** Inputs of which exactly one is set; setting another one instead replaces the resource. */
    replacedOnSwitch?: { properties: string[]; source: string };
    /** pulumi-aws marks the type delete-before-replace. */
    deleteBeforeReplace?: true;
}

export type Inputs = Record<string, unknown>;

const tags = (source: string): PropertyRule => ({ forceNew: false, source: `${source} (tags: updated in place)` });
const keep = (source: string): PropertyRule => ({ forceNew: false, source });
const replace = (source: string): PropertyRule => ({ forceNew: true, source });

/** Every resource with an input `name` and no explicit rule is autonamed to 255 characters. */
const genericAutoname = (property = "name"): Autoname => ({
    property,
    maxLength: 255,
    source: "pulumi-aws provider/autonaming.go setAutonaming: AutoName(name, 255, \"-\")",
});

const ROLE = "internal/service/iam/role.go";
const ROLE_POLICY = "internal/service/iam/role_policy.go";
const ATTACHMENT = "internal/service/iam/role_policy_attachment.go";
const PROFILE = "internal/service/iam/instance_profile.go";
const POLICY = "internal/service/iam/policy.go";
const KEY = "internal/service/kms/key.go";
const ALIAS = "internal/service/kms/alias.go";
const PARAMETER = "internal/service/ssm/parameter.go";
const DOCUMENT = "internal/service/ssm/document.go";
const ASSOCIATION = "internal/service/ssm/association.go";
const INSTANCE = "internal/service/ec2/ec2_instance.go";
const GROUP = "internal/service/ec2/vpc_security_group.go";
const GROUP_RULE = "internal/service/ec2/vpc_security_group_ingress_rule.go (the egress rule shares it)";
const EIP = "internal/service/ec2/ec2_eip.go";
const EIP_ASSOCIATION = "internal/service/ec2/ec2_eip_association.go";
const RECORD = "internal/service/route53/record.go";

const securityGroupRule: ResourceRule = {
    terraformType: "aws_vpc_security_group_ingress_rule",
    inputs: {
        securityGroupId: replace(`${GROUP_RULE}: RequiresReplace`),
        cidrIpv4: keep(GROUP_RULE),
        cidrIpv6: keep(GROUP_RULE),
        prefixListId: keep(GROUP_RULE),
        referencedSecurityGroupId: keep(GROUP_RULE),
        description: keep(`${GROUP_RULE}: ModifySecurityGroupRules`),
        fromPort: keep(GROUP_RULE),
        toPort: keep(GROUP_RULE),
        ipProtocol: keep(GROUP_RULE),
        tags: tags(GROUP_RULE),
    },
    computed: ["arn", "securityGroupRuleId", "tagsAll"],
    replacedOnSwitch: {
        properties: ["cidrIpv4", "cidrIpv6", "prefixListId", "referencedSecurityGroupId"],
        source: `${GROUP_RULE}: ModifyPlan, "you cannot change the rule's source type"`,
    },
};

export const resourceRules: Record<string, ResourceRule> = {
    "aws:iam/role:Role": {
        terraformType: "aws_iam_role",
        inputs: {
            assumeRolePolicy: keep(`${ROLE}: UpdateAssumeRolePolicy`),
            name: replace(ROLE),
            namePrefix: replace(ROLE),
            path: replace(ROLE),
            description: keep(`${ROLE}: UpdateRoleDescription`),
            maxSessionDuration: keep(ROLE),
            permissionsBoundary: keep(`${ROLE}: PutRolePermissionsBoundary`),
            forceDetachPolicies: keep(ROLE),
            tags: tags(ROLE),
        },
        computed: ["arn", "createDate", "name", "uniqueId", "tagsAll"],
        autoname: { property: "name", maxLength: 64, source: "pulumi-aws provider/resources.go: AutoName(\"name\", 64, \"-\")" },
    },
    "aws:iam/rolePolicyAttachment:RolePolicyAttachment": {
        terraformType: "aws_iam_role_policy_attachment",
        inputs: { role: replace(ATTACHMENT), policyArn: replace(ATTACHMENT) },
        computed: [],
        deleteBeforeReplace: true, // pulumi-aws provider/resources.go: "a leaf node ... structurally equivalent"
    },
    "aws:iam/rolePolicy:RolePolicy": {
        terraformType: "aws_iam_role_policy",
        inputs: {
            name: replace(ROLE_POLICY),
            namePrefix: replace(ROLE_POLICY),
            role: replace(ROLE_POLICY),
            policy: keep(`${ROLE_POLICY}: PutRolePolicy`),
        },
        computed: ["name"],
        autoname: genericAutoname(),
    },
    "aws:iam/instanceProfile:InstanceProfile": {
        terraformType: "aws_iam_instance_profile",
        inputs: {
            name: replace(PROFILE),
            namePrefix: replace(PROFILE),
            path: replace(PROFILE),
            role: keep(`${PROFILE}: RemoveRoleFromInstanceProfile, AddRoleToInstanceProfile`),
            tags: tags(PROFILE),
        },
        computed: ["arn", "createDate", "name", "uniqueId", "tagsAll"],
        autoname: genericAutoname(),
    },
    "aws:iam/policy:Policy": {
        terraformType: "aws_iam_policy",
        inputs: {
            name: replace(POLICY),
            namePrefix: replace(POLICY),
            path: replace(POLICY),
            description: replace(POLICY),
            policy: keep(`${POLICY}: CreatePolicyVersion, SetDefaultPolicyVersion`),
            tags: tags(POLICY),
        },
        computed: ["arn", "attachmentCount", "name", "policyId", "tagsAll"],
        autoname: genericAutoname(),
    },
    "aws:kms/key:Key": {
        terraformType: "aws_kms_key",
        inputs: {
            description: keep(`${KEY}: UpdateKeyDescription`),
            enableKeyRotation: keep(`${KEY}: EnableKeyRotation`),
            rotationPeriodInDays: keep(KEY),
            deletionWindowInDays: keep(KEY),
            isEnabled: keep(KEY),
            policy: keep(`${KEY}: PutKeyPolicy`),
            bypassPolicyLockoutSafetyCheck: keep(KEY),
            keyUsage: replace(KEY),
            customerMasterKeySpec: replace(KEY),
            multiRegion: replace(KEY),
            customKeyStoreId: replace(KEY),
            xksKeyId: replace(KEY),
            tags: tags(KEY),
        },
        computed: ["arn", "keyId", "policy", "rotationPeriodInDays", "multiRegion", "tagsAll"],
    },
    "aws:kms/alias:Alias": {
        terraformType: "aws_kms_alias",
        inputs: {
            name: replace(ALIAS),
            namePrefix: replace(ALIAS),
            targetKeyId: keep(`${ALIAS}: UpdateAlias`),
        },
        computed: ["arn", "name", "targetKeyArn"],
        autoname: {
            property: "name",
            maxLength: 238,
            prefix: "alias/",
            source: "pulumi-aws provider/resources.go: aws_kms_alias Maxlen 238, Randlen 7, PostTransform adds \"alias/\"",
        },
    },
    "aws:ssm/parameter:Parameter": {
        terraformType: "aws_ssm_parameter",
        inputs: {
            name: replace(PARAMETER),
            type: keep(`${PARAMETER}: PutParameter with Overwrite`),
            value: keep(PARAMETER),
            insecureValue: keep(PARAMETER),
            keyId: keep(`${PARAMETER}: PutParameter KeyId when it changed`),
            description: keep(PARAMETER),
            allowedPattern: keep(PARAMETER),
            overwrite: keep(PARAMETER),
            dataType: replace(PARAMETER),
            tier: {
                forceNew: false,
                replacesWhen: (olds, news) => olds.tier === "Advanced" && news.tier === "Standard",
                source: `${PARAMETER}: CustomizeDiff ForceNewIfChange("tier") from Advanced to Standard`,
            },
            tags: tags(PARAMETER),
        },
        computed: ["arn", "version", "keyId", "tier", "dataType", "insecureValue", "tagsAll"],
        autoname: genericAutoname(),
    },
    "aws:ssm/document:Document": {
        terraformType: "aws_ssm_document",
        inputs: {
            name: replace(DOCUMENT),
            content: keep(`${DOCUMENT}: UpdateDocument, UpdateDocumentDefaultVersion`),
            documentType: keep(DOCUMENT),
            documentFormat: keep(DOCUMENT),
            targetType: keep(DOCUMENT),
            versionName: keep(DOCUMENT),
            permissions: keep(`${DOCUMENT}: ModifyDocumentPermission`),
            tags: tags(DOCUMENT),
        },
        computed: [
            "arn",
            "createdDate",
            "defaultVersion",
            "description",
            "documentVersion",
            "hash",
            "hashType",
            "latestVersion",
            "owner",
            "parameters",
            "platformTypes",
            "schemaVersion",
            "status",
            "tagsAll",
        ],
        autoname: genericAutoname(),
    },
    "aws:ssm/association:Association": {
        terraformType: "aws_ssm_association",
        inputs: {
            // `name` is the document's name; the program always sets it, but the bridge would autoname it too.
            name: replace(ASSOCIATION),
            instanceId: replace(ASSOCIATION),
            associationName: keep(ASSOCIATION),
            documentVersion: keep(`${ASSOCIATION}: UpdateAssociation`),
            parameters: keep(`${ASSOCIATION}: UpdateAssociation`),
            targets: keep(`${ASSOCIATION}: UpdateAssociation`),
            maxConcurrency: keep(ASSOCIATION),
            maxErrors: keep(ASSOCIATION),
            scheduleExpression: keep(ASSOCIATION),
            applyOnlyAtCronInterval: keep(ASSOCIATION),
            complianceSeverity: keep(ASSOCIATION),
            automationTargetParameterName: keep(ASSOCIATION),
            waitForSuccessTimeoutSeconds: keep(ASSOCIATION),
            // Not in the stored association.go (older than v6); AssociationArgs.tags in @pulumi/aws 7.48.0.
            tags: tags("@pulumi/aws 7.48.0 ssm/association.d.ts"),
        },
        computed: ["arn", "associationId", "documentVersion", "parameters", "targets", "tagsAll"],
        autoname: genericAutoname(),
    },
    "aws:ec2/instance:Instance": {
        terraformType: "aws_instance",
        inputs: {
            ami: replace(INSTANCE),
            instanceType: keep(`${INSTANCE}: ModifyInstanceAttribute between StopInstances and StartInstances`),
            subnetId: replace(INSTANCE),
            availabilityZone: replace(INSTANCE),
            associatePublicIpAddress: replace(INSTANCE),
            privateIp: replace(INSTANCE),
            keyName: replace(INSTANCE),
            securityGroups: replace(INSTANCE),
            tenancy: replace(INSTANCE),
            ebsOptimized: replace(INSTANCE),
            vpcSecurityGroupIds: keep(`${INSTANCE}: ModifyNetworkInterfaceAttribute`),
            iamInstanceProfile: keep(`${INSTANCE}: ReplaceIamInstanceProfileAssociation`),
            monitoring: keep(INSTANCE),
            disableApiTermination: keep(INSTANCE),
            metadataOptions: {
                forceNew: false,
                source: `${INSTANCE}: ModifyInstanceMetadataOptions`,
                fields: {
                    httpEndpoint: keep(INSTANCE),
                    httpTokens: keep(INSTANCE),
                    httpPutResponseHopLimit: keep(INSTANCE),
                    instanceMetadataTags: keep(INSTANCE),
                },
            },
            rootBlockDevice: {
                forceNew: false,
                source: `${INSTANCE}: ModifyVolume for size, type, iops, throughput`,
                fields: {
                    encrypted: replace(INSTANCE),
                    kmsKeyId: replace(INSTANCE),
                    volumeSize: keep(INSTANCE),
                    volumeType: keep(INSTANCE),
                    iops: keep(INSTANCE),
                    throughput: keep(INSTANCE),
                    deleteOnTermination: keep(INSTANCE),
                    tags: tags(INSTANCE),
                },
            },
            creditSpecification: {
                forceNew: false,
                source: `${INSTANCE}: ModifyInstanceCreditSpecification`,
                fields: { cpuCredits: keep(INSTANCE) },
            },
            userData: {
                forceNew: false,
                replacesWhen: (_olds, news) => news.userDataReplaceOnChange === true,
                source: `${INSTANCE}: CustomizeDiff ForceNewIf("user_data", user_data_replace_on_change)`,
            },
            userDataBase64: {
                forceNew: false,
                replacesWhen: (_olds, news) => news.userDataReplaceOnChange === true,
                source: `${INSTANCE}: CustomizeDiff ForceNewIf("user_data_base64", user_data_replace_on_change)`,
            },
            userDataReplaceOnChange: keep(INSTANCE),
            tags: tags(INSTANCE),
            volumeTags: tags(INSTANCE),
        },
        computed: [
            "arn",
            "availabilityZone",
            "instanceState",
            "primaryNetworkInterfaceId",
            "privateDns",
            "privateIp",
            "publicDns",
            "publicIp",
            "outpostArn",
            "passwordData",
            "subnetId",
            "vpcSecurityGroupIds",
            "tagsAll",
        ],
    },
    "aws:ec2/securityGroup:SecurityGroup": {
        terraformType: "aws_security_group",
        inputs: {
            name: replace(GROUP),
            namePrefix: replace(GROUP),
            description: replace(GROUP), // defaults to "Managed by Pulumi" (pulumi-aws provider/resources.go)
            vpcId: replace(GROUP),
            ingress: keep(GROUP),
            egress: keep(GROUP),
            revokeRulesOnDelete: keep(GROUP),
            tags: tags(GROUP),
        },
        computed: ["arn", "name", "ownerId", "vpcId", "ingress", "egress", "tagsAll"],
        autoname: genericAutoname(),
    },
    "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule": securityGroupRule,
    "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule": {
        ...securityGroupRule,
        terraformType: "aws_vpc_security_group_egress_rule",
    },
    "aws:ec2/eip:Eip": {
        terraformType: "aws_eip",
        inputs: {
            domain: replace(EIP),
            address: replace(EIP),
            publicIpv4Pool: replace(EIP),
            networkBorderGroup: replace(EIP),
            ipamPoolId: replace(EIP),
            instance: keep(`${EIP}: DisassociateAddress, AssociateAddress`),
            networkInterface: keep(EIP),
            associateWithPrivateIp: keep(EIP),
            tags: tags(EIP),
        },
        computed: [
            "allocationId",
            "arn",
            "associationId",
            "carrierIp",
            "customerOwnedIp",
            "domain",
            "privateDns",
            "privateIp",
            "ptrRecord",
            "publicDns",
            "publicIp",
            "publicIpv4Pool",
            "networkBorderGroup",
            "tagsAll",
        ],
    },
    "aws:ec2/eipAssociation:EipAssociation": {
        terraformType: "aws_eip_association",
        inputs: {
            allocationId: replace(EIP_ASSOCIATION),
            allowReassociation: replace(EIP_ASSOCIATION),
            instanceId: replace(EIP_ASSOCIATION),
            networkInterfaceId: replace(EIP_ASSOCIATION),
            privateIpAddress: replace(EIP_ASSOCIATION),
            publicIp: replace(EIP_ASSOCIATION),
        },
        computed: ["allocationId", "instanceId", "networkInterfaceId", "privateIpAddress", "publicIp"],
    },
    "aws:route53/record:Record": {
        terraformType: "aws_route53_record",
        inputs: {
            // Not autonamed: pulumi-aws provider/resources.go, "the name of these is actually the true domain name".
            name: replace(RECORD),
            zoneId: replace(RECORD),
            type: keep(`${RECORD}: one ChangeResourceRecordSets batch, DELETE then CREATE`),
            ttl: keep(RECORD),
            records: keep(RECORD),
            aliases: keep(RECORD),
            allowOverwrite: keep(RECORD),
            setIdentifier: keep(RECORD),
            healthCheckId: keep(RECORD),
        },
        computed: ["fqdn"],
    },
};

/** The invokes the program calls; the stand-in refuses any other. */
export const knownInvokes = [
    "aws:index/getRegion:getRegion",
    "aws:index/getCallerIdentity:getCallerIdentity",
    "aws:index/getPartition:getPartition",
    "aws:iam/getSessionContext:getSessionContext",
    "aws:ssm/getParameter:getParameter",
    "aws:ec2/getVpc:getVpc",
    "aws:ec2/getSubnets:getSubnets",
    "aws:route53/getZone:getZone",
] as const;

/** The rule for an input, by its path (`["rootBlockDevice", "encrypted"]`); undefined when the table does not know it. */
export function propertyRule(type: string, path: string[]): PropertyRule | undefined {
    let rules: Record<string, PropertyRule> | undefined = resourceRules[type]?.inputs;
    let rule: PropertyRule | undefined;
    for (const key of path) {
        rule = rules?.[key];
        if (!rule) return undefined;
        rules = rule.fields;
    }
    return rule;
}

/** Paths of the inputs the tables do not know, nested fields included; a type the tables do not know is `[type]`. */
export function unknownInputs(type: string, inputs: Inputs): string[] {
    const rule = resourceRules[type];
    if (!rule) return [type];
    const walk = (rules: Record<string, PropertyRule>, values: Inputs, prefix: string): string[] =>
        Object.entries(values).flatMap(([key, value]) => {
            const known = rules[key];
            if (!known) return [prefix + key];
            if (!known.fields || !isObject(value)) return [];
            return walk(known.fields, value, `${prefix}${key}.`);
        });
    return walk(rule.inputs, inputs, "");
}

/** The changed inputs, and those of them whose change replaces the resource, as the provider's diff reports them. */
export function diffInputs(type: string, olds: Inputs, news: Inputs): { changes: string[]; replaces: string[] } {
    const rule = resourceRules[type];
    if (!rule) throw new Error(`no rules for ${type}`);
    const changes: string[] = [];
    const replaces: string[] = [];
    const walk = (rules: Record<string, PropertyRule>, before: Inputs, after: Inputs, prefix: string) => {
        for (const key of new Set([...Object.keys(before), ...Object.keys(after)])) {
            if (sameValue(before[key], after[key])) continue;
            const path = prefix + key;
            const known = rules[key];
            if (known?.fields && isObject(before[key] ?? {}) && isObject(after[key] ?? {})) {
                walk(known.fields, (before[key] ?? {}) as Inputs, (after[key] ?? {}) as Inputs, `${path}.`);
                continue;
            }
            changes.push(path);
            if (!known || known.forceNew || known.replacesWhen?.(olds, news)) replaces.push(path);
        }
    };
    walk(rule.inputs, olds, news, "");
    const switched = rule.replacedOnSwitch?.properties.filter((key) => (olds[key] === undefined) !== (news[key] === undefined));
    for (const key of switched ?? []) if (!replaces.includes(key)) replaces.push(key);
    return { changes, replaces };
}

/**
 * The name the bridge gives a resource whose autonamed property is unset: `<logical name>-` plus 7 random hex
 * characters (tfbridge AutoName), refused past the maximum length (pulumi/pulumi sdk/go/common/resource
 * NewUniqueHex: "name '<prefix>' plus 7 random chars is longer than maximum length <max>").
 */
export function autonamed(type: string, logicalName: string, randomHex: string): string | undefined {
    const rule = resourceRules[type]?.autoname;
    if (!rule) return undefined;
    const prefix = `${logicalName}-`;
    if (prefix.length + randomHex.length > rule.maxLength) {
        throw new Error(
            `name '${prefix}' plus ${randomHex.length} random chars is longer than maximum length ${rule.maxLength}`,
        );
    }
    return (rule.prefix ?? "") + prefix + randomHex;
}

function isObject(value: unknown): value is Inputs {
    return typeof value === "object" && value !== null && !Array.isArray(value);
}

function sameValue(a: unknown, b: unknown): boolean {
    return JSON.stringify(a) === JSON.stringify(b);
}
