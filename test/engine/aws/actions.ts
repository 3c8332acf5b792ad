// The IAM actions each provider operation and invoke needs, as terraform-provider-aws calls the AWS APIs: the calls
// of its create function, the read it ends with and the waiters between, each call as the IAM request AWS
// authorizes (the resource ARNs it checks and the condition keys it carries). The stand-in records these requests so
// a test can hold them against the CI roles' policies (test/engine/iam/evaluate.ts).
//
// Call lists: the terraform file named on each type. Resource types and condition keys: the Service Authorization
// Reference page of each service (docs.aws.amazon.com/service-authorization/latest/reference/list_<service>.html);
// `*` where an action takes no resource.

/** One IAM authorization: the action, the resources it is checked on, and the request's condition keys. */
export interface AuthorizationRequest {
    action: string;
    resources: string[];
    context: Record<string, string | string[]>;
    /** The API call that makes it, e.g. `ec2:RunInstances` makes `ec2:CreateTags` too. */
    call: string;
    /** AWS authorizes it without any policy (sts:GetCallerIdentity). */
    noPolicyNeeded?: true;
}

/** What a request is made about: where, and the resource's names, ids and tags as the provider has them. */
export interface ActionContext {
    partition: string;
    region: string;
    accountId: string;
    /** Inputs and outputs of the resource (or invoke arguments), by their Pulumi names. */
    props: Record<string, unknown>;
    /** The resource's tags before the call, which existing-resource requests carry as aws:ResourceTag/*. */
    tags?: Record<string, string>;
}

export type Operation = "create" | "read" | "update" | "delete";

type Requests = (c: ActionContext) => AuthorizationRequest[];
interface TypeActions {
    source: string;
    create: Requests;
    read: Requests;
    /** By changed input; `tags` covers tag changes. Every update ends with the read. */
    update: Record<string, Requests>;
    delete: Requests;
}

const str = (c: ActionContext, key: string) => (typeof c.props[key] === "string" ? (c.props[key] as string) : "*");
const list = (c: ActionContext, key: string) => (Array.isArray(c.props[key]) ? (c.props[key] as string[]) : []);

// ARNs (Service Authorization Reference, "Resource types defined by ...").
const arn = {
    role: (c: ActionContext, name = str(c, "name"), path = "/") => `arn:${c.partition}:iam::${c.accountId}:role${path}${name}`,
    profile: (c: ActionContext, name = str(c, "name")) => `arn:${c.partition}:iam::${c.accountId}:instance-profile/${name}`,
    policy: (c: ActionContext) => (typeof c.props.arn === "string" ? c.props.arn : `arn:${c.partition}:iam::${c.accountId}:policy/${str(c, "name")}`),
    key: (c: ActionContext, id = str(c, "keyId")) => (id.startsWith("arn:") ? id : `arn:${c.partition}:kms:${c.region}:${c.accountId}:key/${id}`),
    alias: (c: ActionContext) => `arn:${c.partition}:kms:${c.region}:${c.accountId}:${str(c, "name")}`,
    parameter: (c: ActionContext, name = str(c, "name"), account = c.accountId) =>
        `arn:${c.partition}:ssm:${c.region}:${account}:parameter/${name.replace(/^\//, "")}`,
    document: (c: ActionContext, name: string) => `arn:${c.partition}:ssm:${c.region}:${c.accountId}:document/${name}`,
    association: (c: ActionContext) => `arn:${c.partition}:ssm:${c.region}:${c.accountId}:association/${str(c, "associationId")}`,
    ec2: (c: ActionContext, type: string, id: string) => `arn:${c.partition}:ec2:${c.region}:${c.accountId}:${type}/${id}`,
    image: (c: ActionContext, id: string) => `arn:${c.partition}:ec2:${c.region}::image/${id}`,
    zone: (c: ActionContext, id: string) => `arn:${c.partition}:route53:::hostedzone/${id}`,
};

function request(call: string, resources: string[], context: AuthorizationRequest["context"] = {}, action = call): AuthorizationRequest {
    return { action, resources, context, call };
}

/** aws:RequestTag/* and aws:TagKeys for tags sent with a request; nothing without tags. */
function requestTags(tags: unknown): AuthorizationRequest["context"] {
    if (typeof tags !== "object" || tags === null || Object.keys(tags).length === 0) return {};
    const entries = Object.entries(tags as Record<string, string>);
    return { ...Object.fromEntries(entries.map(([k, v]) => [`aws:RequestTag/${k}`, v])), "aws:TagKeys": entries.map(([k]) => k) };
}
/** aws:ResourceTag/* of an existing resource. */
function resourceTags(c: ActionContext): AuthorizationRequest["context"] {
    return Object.fromEntries(Object.entries(c.tags ?? {}).map(([k, v]) => [`aws:ResourceTag/${k}`, v]));
}
const hasTags = (tags: unknown) => typeof tags === "object" && tags !== null && Object.keys(tags).length > 0;

/** The tag update a type's transparent tagging makes (UpdateTags in each service's tags_gen.go). */
function tagUpdate(tagAction: string, untagAction: string, resource: (c: ActionContext) => string): Requests {
    return (c) => {
        const before = c.tags ?? {};
        const after = (c.props.tags ?? {}) as Record<string, string>;
        const removed = Object.keys(before).filter((key) => !(key in after));
        const changed = Object.fromEntries(Object.entries(after).filter(([k, v]) => before[k] !== v));
        return [
            ...(removed.length ? [request(untagAction, [resource(c)], { ...resourceTags(c), "aws:TagKeys": removed })] : []),
            ...(Object.keys(changed).length ? [request(tagAction, [resource(c)], { ...resourceTags(c), ...requestTags(changed) })] : []),
        ];
    };
}

// IAM (Service Authorization Reference: list_awsidentityandaccessmanagementiam.html).
const roleRead: Requests = (c) => [
    request("iam:GetRole", [arn.role(c)], resourceTags(c)),
    request("iam:ListRolePolicies", [arn.role(c)], resourceTags(c)),
    ...list(c, "inlinePolicyNames").map(() => request("iam:GetRolePolicy", [arn.role(c)], resourceTags(c))),
    request("iam:ListAttachedRolePolicies", [arn.role(c)], resourceTags(c)),
];
const role: TypeActions = {
    source: "internal/service/iam/role.go",
    create: (c) => [
        request("iam:CreateRole", [arn.role(c)], requestTags(c.props.tags)),
        // Tagging on create needs iam:TagRole as well (IAM User Guide, id_tags_roles).
        ...(hasTags(c.props.tags) ? [request("iam:CreateRole", [arn.role(c)], requestTags(c.props.tags), "iam:TagRole")] : []),
        ...roleRead(c),
    ],
    read: roleRead,
    update: {
        assumeRolePolicy: (c) => [request("iam:UpdateAssumeRolePolicy", [arn.role(c)], resourceTags(c))],
        description: (c) => [request("iam:UpdateRoleDescription", [arn.role(c)], resourceTags(c))],
        maxSessionDuration: (c) => [request("iam:UpdateRole", [arn.role(c)], resourceTags(c))],
        permissionsBoundary: (c) => [request("iam:PutRolePermissionsBoundary", [arn.role(c)], { ...resourceTags(c), "iam:PermissionsBoundary": str(c, "permissionsBoundary") })],
        tags: tagUpdate("iam:TagRole", "iam:UntagRole", (c) => arn.role(c)),
    },
    delete: (c) => [
        request("iam:ListInstanceProfilesForRole", [arn.role(c)], resourceTags(c)),
        ...list(c, "instanceProfileNames").map((profile) => request("iam:RemoveRoleFromInstanceProfile", [arn.profile(c, profile)])),
        request("iam:DeleteRole", [arn.role(c)], resourceTags(c)),
    ],
};

const rolePolicyArn = (c: ActionContext) => arn.role(c, str(c, "role"));
const rolePolicy: TypeActions = {
    source: "internal/service/iam/role_policy.go",
    create: (c) => [request("iam:PutRolePolicy", [rolePolicyArn(c)]), request("iam:GetRolePolicy", [rolePolicyArn(c)])],
    read: (c) => [request("iam:GetRolePolicy", [rolePolicyArn(c)])],
    update: { policy: (c) => [request("iam:PutRolePolicy", [rolePolicyArn(c)]), request("iam:GetRolePolicy", [rolePolicyArn(c)])] },
    delete: (c) => [request("iam:DeleteRolePolicy", [rolePolicyArn(c)])],
};

const attached = (c: ActionContext) => ({ "iam:PolicyARN": str(c, "policyArn") });
const rolePolicyAttachment: TypeActions = {
    source: "internal/service/iam/role_policy_attachment.go",
    create: (c) => [request("iam:AttachRolePolicy", [rolePolicyArn(c)], attached(c)), request("iam:ListAttachedRolePolicies", [rolePolicyArn(c)])],
    read: (c) => [request("iam:ListAttachedRolePolicies", [rolePolicyArn(c)])],
    update: {},
    delete: (c) => [request("iam:DetachRolePolicy", [rolePolicyArn(c)], attached(c))],
};

// AddRoleToInstanceProfile needs iam:PassRole on the role (IAM API Reference, API_AddRoleToInstanceProfile).
const addRole = (c: ActionContext, roleName: string) => [
    request("iam:AddRoleToInstanceProfile", [arn.profile(c)], resourceTags(c)),
    request("iam:AddRoleToInstanceProfile", [arn.role(c, roleName)], { "iam:PassedToService": "ec2.amazonaws.com" }, "iam:PassRole"),
];
const profileRead: Requests = (c) => [
    request("iam:GetInstanceProfile", [arn.profile(c)], resourceTags(c)),
    ...(typeof c.props.role === "string" ? [request("iam:GetRole", [arn.role(c, c.props.role)])] : []),
];
const instanceProfile: TypeActions = {
    source: "internal/service/iam/instance_profile.go",
    create: (c) => [
        request("iam:CreateInstanceProfile", [arn.profile(c)], requestTags(c.props.tags)),
        ...(hasTags(c.props.tags) ? [request("iam:CreateInstanceProfile", [arn.profile(c)], requestTags(c.props.tags), "iam:TagInstanceProfile")] : []),
        request("iam:GetInstanceProfile", [arn.profile(c)]),
        ...(typeof c.props.role === "string" ? addRole(c, c.props.role) : []),
        ...profileRead(c),
    ],
    read: profileRead,
    update: {
        role: (c) => [
            ...(typeof c.props.previousRole === "string" ? [request("iam:RemoveRoleFromInstanceProfile", [arn.profile(c)], resourceTags(c))] : []),
            ...(typeof c.props.role === "string" ? addRole(c, c.props.role) : []),
            request("iam:GetInstanceProfile", [arn.profile(c)], resourceTags(c)), // waitInstanceProfileReady
        ],
        tags: tagUpdate("iam:TagInstanceProfile", "iam:UntagInstanceProfile", (c) => arn.profile(c)),
    },
    delete: (c) => [
        ...(typeof c.props.role === "string" ? [request("iam:RemoveRoleFromInstanceProfile", [arn.profile(c)], resourceTags(c))] : []),
        request("iam:DeleteInstanceProfile", [arn.profile(c)], resourceTags(c)),
    ],
};

const policyRead: Requests = (c) => [request("iam:GetPolicy", [arn.policy(c)], resourceTags(c)), request("iam:GetPolicyVersion", [arn.policy(c)], resourceTags(c))];
const policy: TypeActions = {
    source: "internal/service/iam/policy.go",
    create: (c) => [
        request("iam:CreatePolicy", [arn.policy(c)], requestTags(c.props.tags)),
        ...(hasTags(c.props.tags) ? [request("iam:CreatePolicy", [arn.policy(c)], requestTags(c.props.tags), "iam:TagPolicy")] : []),
        ...policyRead(c),
    ],
    read: policyRead,
    update: {
        policy: (c) => [
            request("iam:ListPolicyVersions", [arn.policy(c)], resourceTags(c)),
            request("iam:CreatePolicyVersion", [arn.policy(c)], resourceTags(c)),
            request("iam:SetDefaultPolicyVersion", [arn.policy(c)], resourceTags(c)),
        ],
        tags: tagUpdate("iam:TagPolicy", "iam:UntagPolicy", (c) => arn.policy(c)),
    },
    delete: (c) => [request("iam:ListPolicyVersions", [arn.policy(c)], resourceTags(c)), request("iam:DeletePolicy", [arn.policy(c)], resourceTags(c))],
};

// KMS (list_awskeymanagementservice.html).
const keyRead: Requests = (c) =>
    ["kms:DescribeKey", "kms:GetKeyPolicy", "kms:GetKeyRotationStatus", "kms:ListResourceTags"].map((action) => request(action, [arn.key(c)], resourceTags(c)));
const key: TypeActions = {
    source: "internal/service/kms/key.go",
    create: (c) => [
        request("kms:CreateKey", ["*"], requestTags(c.props.tags)),
        // Tags on CreateKey need kms:TagResource too (KMS Developer Guide, tagging-keys).
        ...(hasTags(c.props.tags) ? [request("kms:CreateKey", ["*"], requestTags(c.props.tags), "kms:TagResource")] : []),
        ...(c.props.enableKeyRotation === true
            ? [request("kms:EnableKeyRotation", [arn.key(c)]), request("kms:GetKeyRotationStatus", [arn.key(c)])]
            : []),
        ...(c.props.policy !== undefined ? [request("kms:GetKeyPolicy", [arn.key(c)])] : []),
        ...(hasTags(c.props.tags) ? [request("kms:ListResourceTags", [arn.key(c)])] : []),
        ...keyRead(c),
    ],
    read: keyRead,
    update: {
        description: (c) => [request("kms:UpdateKeyDescription", [arn.key(c)], resourceTags(c)), request("kms:DescribeKey", [arn.key(c)], resourceTags(c))],
        policy: (c) => [request("kms:PutKeyPolicy", [arn.key(c)], resourceTags(c)), request("kms:GetKeyPolicy", [arn.key(c)], resourceTags(c))],
        enableKeyRotation: (c) => [
            request(c.props.enableKeyRotation === true ? "kms:EnableKeyRotation" : "kms:DisableKeyRotation", [arn.key(c)], resourceTags(c)),
            request("kms:GetKeyRotationStatus", [arn.key(c)], resourceTags(c)),
        ],
        tags: tagUpdate("kms:TagResource", "kms:UntagResource", (c) => arn.key(c)),
    },
    delete: (c) => [request("kms:ScheduleKeyDeletion", [arn.key(c)], resourceTags(c)), request("kms:DescribeKey", [arn.key(c)], resourceTags(c))],
};

// CreateAlias, UpdateAlias and DeleteAlias are checked on the alias and on the key (list_awskeymanagementservice.html).
const aliasAndKey = (c: ActionContext, keyId = str(c, "targetKeyId")) => [arn.alias(c), arn.key(c, keyId)];
const alias: TypeActions = {
    source: "internal/service/kms/alias.go",
    create: (c) => [request("kms:CreateAlias", aliasAndKey(c)), request("kms:ListAliases", ["*"])],
    read: () => [request("kms:ListAliases", ["*"])],
    update: {
        targetKeyId: (c) => [
            request("kms:UpdateAlias", [...aliasAndKey(c), ...(typeof c.props.previousTargetKeyId === "string" ? [arn.key(c, c.props.previousTargetKeyId)] : [])]),
            request("kms:ListAliases", ["*"]),
        ],
    },
    delete: (c) => [request("kms:DeleteAlias", aliasAndKey(c))],
};

// SSM (list_awssystemsmanager.html). A SecureString under a customer key makes SSM call KMS in the caller's name:
// Encrypt on put, Decrypt on a decrypted get, with kms:ViaService and the parameter's ARN as encryption context
// (Systems Manager User Guide, "How AWS Systems Manager Parameter Store uses AWS KMS").
function viaSsm(c: ActionContext, call: string, action: string): AuthorizationRequest[] {
    if (c.props.type !== "SecureString" || typeof c.props.keyId !== "string") return [];
    return [
        request(call, [arn.key(c, c.props.keyId)], {
            "kms:ViaService": `ssm.${c.region}.amazonaws.com`,
            "kms:EncryptionContext:PARAMETER_ARN": arn.parameter(c),
            "kms:CallerAccount": c.accountId,
        }, action),
    ];
}
const parameterRead: Requests = (c) => [
    request("ssm:GetParameter", [arn.parameter(c)], resourceTags(c)),
    ...viaSsm(c, "ssm:GetParameter", "kms:Decrypt"),
    request("ssm:DescribeParameters", ["*"]),
    request("ssm:ListTagsForResource", [arn.parameter(c)], resourceTags(c)),
];
const putParameter: Requests = (c) => [request("ssm:PutParameter", [arn.parameter(c)], resourceTags(c)), ...viaSsm(c, "ssm:PutParameter", "kms:Encrypt")];
const ssmTags = (resource: (c: ActionContext) => string) => tagUpdate("ssm:AddTagsToResource", "ssm:RemoveTagsFromResource", resource);
const parameter: TypeActions = {
    source: "internal/service/ssm/parameter.go",
    create: (c) => [
        request("ssm:PutParameter", [arn.parameter(c)], requestTags(c.props.tags)),
        // Tags sent with PutParameter need ssm:AddTagsToResource (Systems Manager User Guide, tagging-parameters).
        ...(hasTags(c.props.tags) ? [request("ssm:PutParameter", [arn.parameter(c)], requestTags(c.props.tags), "ssm:AddTagsToResource")] : []),
        ...viaSsm(c, "ssm:PutParameter", "kms:Encrypt"),
        ...parameterRead(c),
    ],
    read: parameterRead,
    update: {
        value: putParameter,
        description: putParameter,
        keyId: putParameter,
        type: putParameter,
        tier: putParameter,
        tags: ssmTags((c) => arn.parameter(c)),
    },
    delete: (c) => [request("ssm:DeleteParameter", [arn.parameter(c)], resourceTags(c))],
};

const documentArn = (c: ActionContext) => arn.document(c, str(c, "name"));
const documentRead: Requests = (c) =>
    ["ssm:DescribeDocument", "ssm:GetDocument", "ssm:DescribeDocumentPermission"].map((action) => request(action, [documentArn(c)], resourceTags(c)));
const document: TypeActions = {
    source: "internal/service/ssm/document.go",
    create: (c) => [
        request("ssm:CreateDocument", [documentArn(c)], requestTags(c.props.tags)),
        ...(hasTags(c.props.tags) ? [request("ssm:CreateDocument", [documentArn(c)], requestTags(c.props.tags), "ssm:AddTagsToResource")] : []),
        request("ssm:DescribeDocument", [documentArn(c)]),
        ...documentRead(c),
    ],
    read: documentRead,
    update: {
        content: (c) => [
            request("ssm:UpdateDocument", [documentArn(c)], resourceTags(c)),
            request("ssm:UpdateDocumentDefaultVersion", [documentArn(c)], resourceTags(c)),
            request("ssm:DescribeDocument", [documentArn(c)], resourceTags(c)), // waitDocumentActive
        ],
        tags: ssmTags(documentArn),
    },
    delete: (c) => [request("ssm:DeleteDocument", [documentArn(c)], resourceTags(c)), request("ssm:DescribeDocument", [documentArn(c)], resourceTags(c))],
};

/** An association is checked on its document and on each targeted instance (list_awssystemsmanager.html). */
function associationTargets(c: ActionContext): string[] {
    const targets = (Array.isArray(c.props.targets) ? c.props.targets : []) as { key?: string; values?: string[] }[];
    const instances = targets.filter((t) => t.key === "InstanceIds").flatMap((t) => t.values ?? []);
    return [arn.document(c, str(c, "name")), ...instances.map((id) => arn.ec2(c, "instance", id))];
}
const association: TypeActions = {
    source: "internal/service/ssm/association.go",
    create: (c) => [
        request("ssm:CreateAssociation", associationTargets(c), requestTags(c.props.tags)),
        ...(hasTags(c.props.tags) ? [request("ssm:CreateAssociation", [arn.association(c)], requestTags(c.props.tags), "ssm:AddTagsToResource")] : []),
        request("ssm:DescribeAssociation", associationTargets(c)),
    ],
    read: (c) => [request("ssm:DescribeAssociation", associationTargets(c))],
    update: Object.fromEntries(
        ["parameters", "targets", "documentVersion", "maxConcurrency", "maxErrors", "associationName", "scheduleExpression"].map((input) => [
            input,
            (c: ActionContext) => [request("ssm:UpdateAssociation", associationTargets(c))],
        ]),
    ),
    delete: (c) => [request("ssm:DeleteAssociation", associationTargets(c))],
};

// EC2 (list_amazonec2.html). Tags sent in TagSpecifications need ec2:CreateTags with ec2:CreateAction set to the
// creating call (EC2 User Guide, supported-iam-actions-tagging).
const ec2ResourceTags = (c: ActionContext) => ({
    ...resourceTags(c),
    ...Object.fromEntries(Object.entries(c.tags ?? {}).map(([k, v]) => [`ec2:ResourceTag/${k}`, v])),
});
function tagOnCreate(call: string, resources: string[], tags: unknown): AuthorizationRequest[] {
    if (!hasTags(tags)) return [];
    return [request(call, resources, { ...requestTags(tags), "ec2:CreateAction": call.replace("ec2:", "") }, "ec2:CreateTags")];
}
const ec2Tags = (type: string, id: (c: ActionContext) => string) => tagUpdate("ec2:CreateTags", "ec2:DeleteTags", (c) => arn.ec2(c, type, id(c)));

const instanceId = (c: ActionContext) => str(c, "id");
const instanceArn = (c: ActionContext) => arn.ec2(c, "instance", instanceId(c));
const describe = (...actions: string[]) => actions.map((action) => request(action, ["*"]));
const instanceRead: Requests = (c) => [
    ...describe("ec2:DescribeInstances", "ec2:DescribeInstanceTypes", "ec2:DescribeVpcs"),
    ...["instanceInitiatedShutdownBehavior", "disableApiStop", "disableApiTermination", "userData"].map(() =>
        request("ec2:DescribeInstanceAttribute", [instanceArn(c)], ec2ResourceTags(c)),
    ),
    ...describe("ec2:DescribeVolumes"),
    ...(hasTags(c.props.volumeTags) ? describe("ec2:DescribeTags") : []),
    // Only for instance types with burstable performance (t2, t3, t3a, t4g).
    ...(/^t\d/.test(str(c, "instanceType")) ? describe("ec2:DescribeInstanceCreditSpecifications") : []),
];
const passProfileRole = (c: ActionContext, call: string) =>
    typeof c.props.instanceProfileRole === "string"
        ? [request(call, [arn.role(c, c.props.instanceProfileRole)], { "iam:PassedToService": "ec2.amazonaws.com" }, "iam:PassRole")]
        : [];
const stopModifyStart: Requests = (c) => [
    request("ec2:StopInstances", [instanceArn(c)], ec2ResourceTags(c)),
    ...describe("ec2:DescribeInstances"),
    request("ec2:ModifyInstanceAttribute", [instanceArn(c)], ec2ResourceTags(c)),
    request("ec2:StartInstances", [instanceArn(c)], ec2ResourceTags(c)),
    ...describe("ec2:DescribeInstances"),
];
const instance: TypeActions = {
    source: "internal/service/ec2/ec2_instance.go",
    create: (c) => {
        const run = "ec2:RunInstances";
        const newInstance = arn.ec2(c, "instance", "*");
        const newVolume = arn.ec2(c, "volume", "*");
        return [
            ...(c.props.rootBlockDevice !== undefined ? describe("ec2:DescribeImages") : []), // FetchRootDeviceName
            request(run, [
                newInstance,
                newVolume,
                arn.ec2(c, "network-interface", "*"),
                arn.image(c, str(c, "ami")),
                arn.ec2(c, "subnet", str(c, "subnetId")),
                ...list(c, "vpcSecurityGroupIds").map((id) => arn.ec2(c, "security-group", id)),
            ], { ...requestTags(c.props.tags), "ec2:InstanceType": str(c, "instanceType") }),
            ...tagOnCreate(run, [newInstance], c.props.tags),
            ...tagOnCreate(run, [newVolume], c.props.volumeTags),
            ...passProfileRole(c, run),
            ...describe("ec2:DescribeInstances"), // WaitInstanceCreated
            ...instanceRead(c),
        ];
    },
    read: instanceRead,
    update: {
        instanceType: stopModifyStart,
        userData: stopModifyStart,
        vpcSecurityGroupIds: (c) => [
            ...describe("ec2:DescribeInstances"),
            request("ec2:ModifyNetworkInterfaceAttribute", [arn.ec2(c, "network-interface", "*"), ...list(c, "vpcSecurityGroupIds").map((id) => arn.ec2(c, "security-group", id))]),
        ],
        iamInstanceProfile: (c) => [
            ...describe("ec2:DescribeIamInstanceProfileAssociations"),
            request("ec2:ReplaceIamInstanceProfileAssociation", [instanceArn(c)], ec2ResourceTags(c)),
            ...passProfileRole(c, "ec2:ReplaceIamInstanceProfileAssociation"),
            ...describe("ec2:DescribeInstances"),
        ],
        metadataOptions: (c) => [request("ec2:ModifyInstanceMetadataOptions", [instanceArn(c)], ec2ResourceTags(c)), ...describe("ec2:DescribeInstances")],
        rootBlockDevice: (c) => [request("ec2:ModifyVolume", [arn.ec2(c, "volume", "*")]), ...describe("ec2:DescribeVolumesModifications")],
        tags: ec2Tags("instance", instanceId),
        volumeTags: (c) => [...describe("ec2:DescribeInstances"), request("ec2:CreateTags", [arn.ec2(c, "volume", "*")], requestTags(c.props.volumeTags))],
    },
    delete: (c) => [
        // Always: termination protection is turned off first (resourceInstanceDelete).
        request("ec2:ModifyInstanceAttribute", [instanceArn(c)], ec2ResourceTags(c)),
        request("ec2:TerminateInstances", [instanceArn(c)], ec2ResourceTags(c)),
        ...describe("ec2:DescribeInstances"),
    ],
};

const groupArn = (c: ActionContext, id = str(c, "id")) => arn.ec2(c, "security-group", id);
const securityGroup: TypeActions = {
    source: "internal/service/ec2/vpc_security_group.go",
    create: (c) => {
        const newGroup = groupArn(c, "*");
        return [
            request("ec2:CreateSecurityGroup", [newGroup, arn.ec2(c, "vpc", str(c, "vpcId"))], requestTags(c.props.tags)),
            ...tagOnCreate("ec2:CreateSecurityGroup", [newGroup], c.props.tags),
            ...describe("ec2:DescribeSecurityGroups"),
            // The default allow-all egress, IPv4 then IPv6, is revoked.
            request("ec2:RevokeSecurityGroupEgress", [groupArn(c)], requestTags(c.props.tags)),
            request("ec2:RevokeSecurityGroupEgress", [groupArn(c)], requestTags(c.props.tags)),
            ...describe("ec2:DescribeSecurityGroups", "ec2:DescribeSecurityGroups"),
        ];
    },
    read: () => describe("ec2:DescribeSecurityGroups"),
    update: { tags: ec2Tags("security-group", (c) => str(c, "id")) },
    delete: (c) => [
        ...describe("ec2:DescribeNetworkInterfaces"),
        request("ec2:DeleteSecurityGroup", [groupArn(c)], ec2ResourceTags(c)),
        ...describe("ec2:DescribeSecurityGroups"),
    ],
};

function securityGroupRule(direction: "Ingress" | "Egress"): TypeActions {
    const ruleArn = (c: ActionContext, id = str(c, "id")) => arn.ec2(c, "security-group-rule", id);
    const group = (c: ActionContext) => groupArn(c, str(c, "securityGroupId"));
    return {
        source: `internal/service/ec2/vpc_security_group_${direction.toLowerCase()}_rule.go`,
        create: (c) => [
            request(`ec2:AuthorizeSecurityGroup${direction}`, [group(c), ruleArn(c, "*")]),
            // The stored version tags after create (UpdateTags), so without ec2:CreateAction.
            ...(hasTags(c.props.tags) ? [request("ec2:CreateTags", [ruleArn(c)], requestTags(c.props.tags))] : []),
        ],
        read: () => describe("ec2:DescribeSecurityGroupRules"),
        update: Object.fromEntries([
            ...["cidrIpv4", "cidrIpv6", "description", "fromPort", "toPort", "ipProtocol", "prefixListId", "referencedSecurityGroupId"].map((input) => [
                input,
                (c: ActionContext) => [request("ec2:ModifySecurityGroupRules", [group(c), ruleArn(c)])],
            ]),
            ["tags", ec2Tags("security-group-rule", (c) => str(c, "id"))],
        ]),
        delete: (c) => [request(`ec2:RevokeSecurityGroup${direction}`, [group(c), ruleArn(c)])],
    };
}

const eipArn = (c: ActionContext, id = str(c, "allocationId")) => arn.ec2(c, "elastic-ip", id);
const eip: TypeActions = {
    source: "internal/service/ec2/ec2_eip.go",
    create: (c) => [
        request("ec2:AllocateAddress", [eipArn(c, "*")], requestTags(c.props.tags)),
        ...tagOnCreate("ec2:AllocateAddress", [eipArn(c, "*")], c.props.tags),
        ...describe("ec2:DescribeAddresses", "ec2:DescribeAddresses", "ec2:DescribeAddressesAttribute"),
    ],
    read: () => describe("ec2:DescribeAddresses", "ec2:DescribeAddressesAttribute"),
    update: { tags: ec2Tags("elastic-ip", (c) => str(c, "allocationId")) },
    delete: (c) => [request("ec2:ReleaseAddress", [eipArn(c)], ec2ResourceTags(c))],
};

const eipAssociation: TypeActions = {
    source: "internal/service/ec2/ec2_eip_association.go",
    create: (c) => [
        request("ec2:AssociateAddress", [eipArn(c), arn.ec2(c, "instance", str(c, "instanceId")), arn.ec2(c, "network-interface", "*")]),
        ...describe("ec2:DescribeAddresses", "ec2:DescribeAddresses"),
    ],
    read: () => describe("ec2:DescribeAddresses"),
    update: {},
    delete: (c) => [request("ec2:DisassociateAddress", [eipArn(c), arn.ec2(c, "network-interface", "*")])],
};

// Route 53 (list_amazonroute53.html): record changes are checked on the hosted zone; GetChange on change/*.
const zone = (c: ActionContext) => arn.zone(c, str(c, "zoneId"));
const recordChange = (c: ActionContext, actions: string[]) =>
    request("route53:ChangeResourceRecordSets", [zone(c)], {
        "route53:ChangeResourceRecordSetsNormalizedRecordNames": [str(c, "name").toLowerCase().replace(/\.$/, "")],
        "route53:ChangeResourceRecordSetsRecordTypes": [str(c, "type")],
        "route53:ChangeResourceRecordSetsActions": actions,
    });
const getChange = (c: ActionContext) => request("route53:GetChange", [`arn:${c.partition}:route53:::change/*`]);
const recordRead: Requests = (c) => [request("route53:GetHostedZone", [zone(c)]), request("route53:ListResourceRecordSets", [zone(c)])];
const record: TypeActions = {
    source: "internal/service/route53/record.go",
    create: (c) => [
        request("route53:GetHostedZone", [zone(c)]),
        recordChange(c, [c.props.allowOverwrite === true ? "UPSERT" : "CREATE"]),
        getChange(c),
        ...recordRead(c),
    ],
    read: recordRead,
    update: Object.fromEntries(
        ["type", "ttl", "records", "aliases", "setIdentifier", "healthCheckId"].map((input) => [
            input,
            (c: ActionContext) => [
                request("route53:GetHostedZone", [zone(c)]),
                recordChange(c, ["DELETE", c.props.allowOverwrite === true ? "UPSERT" : "CREATE"]),
                getChange(c),
            ],
        ]),
    ),
    delete: (c) => [...recordRead(c), recordChange(c, ["DELETE"]), getChange(c)],
};

export const resourceActions: Record<string, TypeActions> = {
    "aws:iam/role:Role": role,
    "aws:iam/rolePolicy:RolePolicy": rolePolicy,
    "aws:iam/rolePolicyAttachment:RolePolicyAttachment": rolePolicyAttachment,
    "aws:iam/instanceProfile:InstanceProfile": instanceProfile,
    "aws:iam/policy:Policy": policy,
    "aws:kms/key:Key": key,
    "aws:kms/alias:Alias": alias,
    "aws:ssm/parameter:Parameter": parameter,
    "aws:ssm/document:Document": document,
    "aws:ssm/association:Association": association,
    "aws:ec2/instance:Instance": instance,
    "aws:ec2/securityGroup:SecurityGroup": securityGroup,
    "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule": securityGroupRule("Ingress"),
    "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule": securityGroupRule("Egress"),
    "aws:ec2/eip:Eip": eip,
    "aws:ec2/eipAssociation:EipAssociation": eipAssociation,
    "aws:route53/record:Record": record,
};

/** The requests of each invoke, from its arguments in `props`. */
export const invokeActions: Record<string, { source: string; requests: Requests }> = {
    // The provider's own region, looked up in the SDK's endpoint table: no call.
    "aws:index/getRegion:getRegion": { source: "internal/service/meta/region_data_source.go", requests: () => [] },
    // The partition of the provider's region: no call.
    "aws:index/getPartition:getPartition": { source: "internal/service/meta/partition_data_source.go", requests: () => [] },
    // "No permissions are required to perform this operation" (STS API Reference, API_GetCallerIdentity).
    "aws:index/getCallerIdentity:getCallerIdentity": {
        source: "internal/service/sts/caller_identity_data_source.go",
        requests: () => [{ ...request("sts:GetCallerIdentity", ["*"]), noPolicyNeeded: true }],
    },
    // iam:GetRole on the role of an assumed-role session ARN; nothing for any other ARN.
    "aws:iam/getSessionContext:getSessionContext": {
        source: "internal/service/iam/session_context_data_source.go",
        requests: (c) => {
            const match = /^arn:[^:]+:sts::\d{12}:assumed-role\/(.+)\/[^/]{2,}$/.exec(str(c, "arn"));
            return match ? [request("iam:GetRole", [arn.role(c, match[1].split("/").pop() as string)])] : [];
        },
    },
    // WithDecryption defaults to true; AWS's public parameters (/aws/service/...) have no account in their ARN.
    "aws:ssm/getParameter:getParameter": {
        source: "internal/service/ssm/parameter_data_source.go",
        requests: (c) => {
            const name = str(c, "name");
            return [request("ssm:GetParameter", [arn.parameter(c, name, name.startsWith("/aws/") ? "" : c.accountId)])];
        },
    },
    "aws:ec2/getVpc:getVpc": { source: "internal/service/ec2/vpc_data_source.go", requests: () => describe("ec2:DescribeVpcs") },
    "aws:ec2/getSubnets:getSubnets": { source: "internal/service/ec2/vpc_subnets_data_source.go", requests: () => describe("ec2:DescribeSubnets") },
    // ListHostedZones to find the zone, then GetHostedZone for its name servers and its tags.
    "aws:route53/getZone:getZone": {
        source: "internal/service/route53/data_source_aws_route53_zone.go",
        requests: (c) => [
            request("route53:ListHostedZones", ["*"]),
            request("route53:GetHostedZone", [arn.zone(c, str(c, "zoneId"))]),
            request("route53:ListTagsForResource", [arn.zone(c, str(c, "zoneId"))]),
        ],
    },
};

/**
 * The requests one provider operation makes; for an update, those of each changed input and then the read. An input
 * whose in-place update is not in the table is an error, so the stand-in refuses what it cannot account for.
 */
export function operationRequests(type: string, operation: Operation, c: ActionContext, changed: string[] = []): AuthorizationRequest[] {
    const actions = resourceActions[type];
    if (!actions) throw new Error(`no actions known for ${type}`);
    if (operation !== "update") return actions[operation](c);
    const unknown = changed.filter((input) => !actions.update[input]);
    if (unknown.length > 0) throw new Error(`no update actions known for ${type} ${unknown.join(", ")}`);
    return [...changed.flatMap((input) => actions.update[input](c)), ...actions.read(c)];
}

export function invokeRequests(token: string, c: ActionContext): AuthorizationRequest[] {
    const invoke = invokeActions[token];
    if (!invoke) throw new Error(`no actions known for invoke ${token}`);
    return invoke.requests(c);
}
