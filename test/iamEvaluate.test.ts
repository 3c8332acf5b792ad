// The IAM policy evaluator the stand-in's recorded requests are held against (test/engine/iam/evaluate.ts): each rule
// of IAM's evaluation as the IAM User Guide states it, and broken policies that must deny.
import { expect } from "chai";
import { evaluate, loadPolicy, NamedPolicy, PolicyDocument, Request, Statement } from "./engine/iam/evaluate";

const account = "123456789012";
const role = (name: string) => `arn:aws:iam::${account}:role/${name}`;
const policy = (name: string, ...statements: Statement[]): NamedPolicy => ({ name, document: { Version: "2012-10-17", Statement: statements } });
const allow = (statement: Partial<Statement>): Statement => ({ Effect: "Allow", Action: "*", Resource: "*", ...statement });
const deny = (statement: Partial<Statement>): Statement => ({ Effect: "Deny", Action: "*", Resource: "*", ...statement });
const ask = (action: string, resource: string, context: Request["context"] = {}): Request => ({ action, resource, context });
const allowed = (request: Request, ...policies: NamedPolicy[]) => evaluate(request, policies).allowed;

describe("IAM policy evaluator", () => {
    describe("actions and resources", () => {
        it("matches actions case-insensitively with * and ?", () => {
            const p = policy("p", allow({ Action: ["EC2:Describe*", "ssm:GetParameter?"] }));
            expect(allowed(ask("ec2:describeinstances", "*"), p)).to.equal(true);
            expect(allowed(ask("ssm:GetParameters", "*"), p)).to.equal(true);
            expect(allowed(ask("ssm:GetParameter", "*"), p)).to.equal(false);
            expect(allowed(ask("ec2:RunInstances", "*"), p)).to.equal(false);
        });

        it("matches ARNs case-sensitively, component by component", () => {
            const p = policy("p", allow({ Resource: [role("tasks-role-*"), `arn:aws:ssm:*:${account}:parameter/app/*`] }));
            expect(allowed(ask("iam:GetRole", role("tasks-role-abc1234")), p)).to.equal(true);
            expect(allowed(ask("iam:GetRole", role("Tasks-role-abc1234")), p)).to.equal(false);
            expect(allowed(ask("ssm:GetParameter", `arn:aws:ssm:eu-west-1:${account}:parameter/app/dev/X`), p)).to.equal(true);
            expect(allowed(ask("ssm:GetParameter", `arn:aws:ssm:eu-west-1:999999999999:parameter/app/dev/X`), p)).to.equal(false);
            // A wildcard in the region does not stretch into the account.
            expect(allowed(ask("ssm:GetParameter", `arn:aws:ssm:eu-west-1:x:${account}:parameter/app/X`), p)).to.equal(false);
        });

        it("NotAction and NotResource allow everything else", () => {
            const p = policy("p", { Effect: "Allow", NotAction: "iam:*", NotResource: role("admin") });
            expect(allowed(ask("ec2:RunInstances", role("tasks")), p)).to.equal(true);
            expect(allowed(ask("iam:GetRole", role("tasks")), p)).to.equal(false);
            expect(allowed(ask("ec2:RunInstances", role("admin")), p)).to.equal(false);
        });
    });

    describe("evaluation logic", () => {
        it("denies without an allow, and says which action on which resource", () => {
            const decision = evaluate(ask("iam:GetRole", role("deployer")), [policy("deploy", allow({ Resource: role("tasks-*") }))]);
            expect(decision).to.include({ allowed: false, reason: "noAllow" });
            expect(decision.explanation).to.equal(`iam:GetRole on ${role("deployer")}: no statement allows it`);
        });

        it("an explicit deny wins over any allow, and is named", () => {
            const decision = evaluate(ask("kms:Decrypt", "*"), [
                policy("broad", allow({})),
                policy("guard", { Sid: "NoDecrypt", Effect: "Deny", Action: "kms:Decrypt", Resource: "*" }),
            ]);
            expect(decision).to.deep.include({ allowed: false, reason: "explicitDeny", statement: { policy: "guard", index: 0, sid: "NoDecrypt" } });
            expect(decision.explanation).to.contain("guard statement NoDecrypt");
        });

        it("reports the statement that allowed", () => {
            const decision = evaluate(ask("ec2:RunInstances", "*"), [policy("deploy", allow({ Action: "s3:*" }), { Sid: "Hosts", ...allow({ Action: "ec2:*" }) })]);
            expect(decision).to.deep.include({ allowed: true, statement: { policy: "deploy", index: 1, sid: "Hosts" } });
        });

        it("a permissions boundary must allow too, and its deny wins", () => {
            const identity = policy("identity", allow({}));
            const boundary = policy("boundary", allow({ Action: "ssm:*" }), deny({ Action: "ssm:DeleteParameter" }));
            expect(evaluate(ask("ssm:GetParameter", "*"), [identity], boundary).allowed).to.equal(true);
            expect(evaluate(ask("ec2:RunInstances", "*"), [identity], boundary)).to.include({ allowed: false, reason: "boundaryNoAllow" });
            expect(evaluate(ask("ssm:DeleteParameter", "*"), [identity], boundary)).to.include({ allowed: false, reason: "explicitDeny" });
            // The boundary alone grants nothing.
            expect(evaluate(ask("ssm:GetParameter", "*"), [], boundary)).to.include({ allowed: false, reason: "noAllow" });
        });
    });

    describe("conditions", () => {
        const when = (Condition: Statement["Condition"]) => policy("p", allow({ Condition }));

        it("string operators: a missing key fails a positive operator and holds a negated one", () => {
            const equals = when({ StringEquals: { "iam:PassedToService": "ec2.amazonaws.com" } });
            expect(allowed(ask("iam:PassRole", "*", { "iam:PassedToService": "ec2.amazonaws.com" }), equals)).to.equal(true);
            expect(allowed(ask("iam:PassRole", "*", { "iam:PassedToService": "lambda.amazonaws.com" }), equals)).to.equal(false);
            expect(allowed(ask("iam:PassRole", "*"), equals)).to.equal(false);
            const notEquals = when({ StringNotEquals: { "aws:RequestTag/env": ["prod", "staging"] } });
            expect(allowed(ask("ec2:CreateTags", "*"), notEquals)).to.equal(true);
            expect(allowed(ask("ec2:CreateTags", "*", { "aws:RequestTag/env": "dev" }), notEquals)).to.equal(true);
            expect(allowed(ask("ec2:CreateTags", "*", { "aws:RequestTag/env": "staging" }), notEquals)).to.equal(false);
            const like = when({ StringLike: { "kms:EncryptionContext:PARAMETER_ARN": "arn:aws:ssm:*:*:parameter/app/tasks/*" } });
            expect(allowed(ask("kms:Decrypt", "*", { "kms:EncryptionContext:PARAMETER_ARN": "arn:aws:ssm:eu-west-1:1:parameter/app/tasks/X" }), like)).to.equal(true);
            expect(allowed(ask("kms:Decrypt", "*", { "kms:EncryptionContext:PARAMETER_ARN": "arn:aws:ssm:eu-west-1:1:parameter/app/requests/X" }), like)).to.equal(false);
            expect(allowed(ask("kms:Decrypt", "*"), when({ StringNotLike: { "kms:ViaService": "ssm.*" } }))).to.equal(true);
        });

        it("IfExists holds when the key is missing and checks it when present; Null tests presence", () => {
            const ifExists = when({ StringEqualsIfExists: { "ec2:InstanceType": "t3.micro" } });
            expect(allowed(ask("ec2:RunInstances", "*"), ifExists)).to.equal(true);
            expect(allowed(ask("ec2:RunInstances", "*", { "ec2:InstanceType": "t3.micro" }), ifExists)).to.equal(true);
            expect(allowed(ask("ec2:RunInstances", "*", { "ec2:InstanceType": "m5.24xlarge" }), ifExists)).to.equal(false);
            const absent = when({ Null: { "aws:RequestTag/project": "true" } });
            const present = when({ Null: { "aws:RequestTag/project": "false" } });
            expect(allowed(ask("ec2:CreateTags", "*"), absent)).to.equal(true);
            expect(allowed(ask("ec2:CreateTags", "*"), present)).to.equal(false);
            expect(allowed(ask("ec2:CreateTags", "*", { "aws:RequestTag/project": "x" }), present)).to.equal(true);
        });

        it("ARN, Bool and numeric operators", () => {
            const arn = when({ ArnEquals: { "iam:PolicyARN": "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore" } });
            expect(allowed(ask("iam:AttachRolePolicy", "*", { "iam:PolicyARN": "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore" }), arn)).to.equal(true);
            expect(allowed(ask("iam:AttachRolePolicy", "*", { "iam:PolicyARN": "arn:aws:iam::aws:policy/AdministratorAccess" }), arn)).to.equal(false);
            const notLike = when({ ArnNotLike: { "aws:SourceArn": `arn:aws:ec2:*:${account}:instance/*` } });
            expect(allowed(ask("s3:GetObject", "*", { "aws:SourceArn": `arn:aws:ec2:eu-west-1:${account}:instance/i-1` }), notLike)).to.equal(false);
            expect(allowed(ask("s3:GetObject", "*", { "aws:SourceArn": `arn:aws:ec2:eu-west-1:999999999999:instance/i-1` }), notLike)).to.equal(true);
            const secure = when({ Bool: { "aws:SecureTransport": "true" } });
            expect(allowed(ask("s3:GetObject", "*", { "aws:SecureTransport": true }), secure)).to.equal(true);
            expect(allowed(ask("s3:GetObject", "*", { "aws:SecureTransport": false }), secure)).to.equal(false);
            const window = when({ NumericLessThanEquals: { "kms:ScheduleKeyDeletionPendingWindowInDays": 7 } });
            expect(allowed(ask("kms:ScheduleKeyDeletion", "*", { "kms:ScheduleKeyDeletionPendingWindowInDays": 7 }), window)).to.equal(true);
            expect(allowed(ask("kms:ScheduleKeyDeletion", "*", { "kms:ScheduleKeyDeletionPendingWindowInDays": 8 }), window)).to.equal(false);
        });

        it("ForAllValues holds for a subset and for no values; ForAnyValue needs one match", () => {
            const onlyKnown = when({ "ForAllValues:StringEquals": { "aws:TagKeys": ["project", "stack", "service", "Name"] } });
            expect(allowed(ask("ec2:CreateTags", "*", { "aws:TagKeys": ["project", "Name"] }), onlyKnown)).to.equal(true);
            expect(allowed(ask("ec2:CreateTags", "*", { "aws:TagKeys": ["project", "owner"] }), onlyKnown)).to.equal(false);
            expect(allowed(ask("ec2:CreateTags", "*"), onlyKnown)).to.equal(true);
            const anyProject = when({ "ForAnyValue:StringEquals": { "aws:TagKeys": "project" } });
            expect(allowed(ask("ec2:CreateTags", "*", { "aws:TagKeys": ["owner", "project"] }), anyProject)).to.equal(true);
            expect(allowed(ask("ec2:CreateTags", "*", { "aws:TagKeys": ["owner"] }), anyProject)).to.equal(false);
            expect(allowed(ask("ec2:CreateTags", "*"), anyProject)).to.equal(false);
        });

        it("ANDs operators and keys, ORs a key's values, and reads keys case-insensitively", () => {
            const both = when({
                StringEquals: { "kms:ViaService": ["ssm.eu-west-1.amazonaws.com", "ssm.us-east-1.amazonaws.com"], "kms:CallerAccount": account },
                StringLike: { "kms:EncryptionContext:PARAMETER_ARN": "*" },
            });
            const context = { "KMS:VIASERVICE": "ssm.us-east-1.amazonaws.com", "kms:CallerAccount": account, "kms:EncryptionContext:PARAMETER_ARN": "x" };
            expect(allowed(ask("kms:Decrypt", "*", context), both)).to.equal(true);
            expect(allowed(ask("kms:Decrypt", "*", { ...context, "kms:CallerAccount": "1" }), both)).to.equal(false);
            expect(allowed(ask("kms:Decrypt", "*", { "kms:ViaService": "ssm.eu-west-1.amazonaws.com", "kms:CallerAccount": account }), both)).to.equal(false);
        });
    });

    describe("policy variables", () => {
        it("fills ${aws:username} in resources and ${aws:PrincipalTag/x} in conditions", () => {
            const p = policy(
                "p",
                allow({ Action: "iam:GetUser", Resource: `arn:aws:iam::${account}:user/\${aws:username}` }),
                allow({ Action: "ssm:GetParameter", Condition: { StringEquals: { "aws:ResourceTag/team": "${aws:PrincipalTag/team}" } } }),
            );
            expect(allowed(ask("iam:GetUser", `arn:aws:iam::${account}:user/alice`, { "aws:username": "alice" }), p)).to.equal(true);
            expect(allowed(ask("iam:GetUser", `arn:aws:iam::${account}:user/bob`, { "aws:username": "alice" }), p)).to.equal(false);
            const tags = { "aws:PrincipalTag/team": "tasks", "aws:ResourceTag/team": "tasks" };
            expect(allowed(ask("ssm:GetParameter", "*", tags), p)).to.equal(true);
            expect(allowed(ask("ssm:GetParameter", "*", { ...tags, "aws:ResourceTag/team": "requests" }), p)).to.equal(false);
        });

        it("a variable the request does not carry matches nothing, unless it has a default", () => {
            const p = policy("p", allow({ Resource: `arn:aws:iam::${account}:user/\${aws:username}` }));
            expect(allowed(ask("iam:GetUser", `arn:aws:iam::${account}:user/`), p)).to.equal(false);
            const withDefault = policy("p", allow({ Resource: `arn:aws:iam::${account}:user/\${aws:username, 'nobody'}` }));
            expect(allowed(ask("iam:GetUser", `arn:aws:iam::${account}:user/nobody`), withDefault)).to.equal(true);
        });
    });

    describe("policy files", () => {
        const file = JSON.stringify({
            Version: "2012-10-17",
            Statement: [
                { Sid: "State", Effect: "Allow", Action: "s3:GetObject", Resource: "arn:aws:s3:::STATE_BUCKET/.pulumi/*" },
                { Sid: "Roles", Effect: "Allow", Action: "iam:GetRole", Resource: "arn:aws:iam::ACCOUNT_ID:role/tasks-role-*" },
                { Sid: "Params", Effect: "Allow", Action: "ssm:GetParameter", Resource: "arn:aws:ssm:REGION:ACCOUNT_ID:parameter/app/*" },
            ],
        });

        it("fills placeholders as whole words", () => {
            const loaded = loadPolicy("deploy.json", file, { ACCOUNT_ID: account, REGION: "eu-west-1", STATE_BUCKET: "state" });
            expect(allowed(ask("s3:GetObject", "arn:aws:s3:::state/.pulumi/stacks/dev.json"), loaded)).to.equal(true);
            expect(allowed(ask("iam:GetRole", role("tasks-role-1")), loaded)).to.equal(true);
            expect(allowed(ask("ssm:GetParameter", `arn:aws:ssm:eu-west-1:${account}:parameter/app/X`), loaded)).to.equal(true);
            // ACCOUNT is not ACCOUNT_ID: a shorter placeholder never eats into a longer one.
            const partial = loadPolicy("deploy.json", file, { ACCOUNT: "000000000000" });
            expect(JSON.stringify(partial.document)).to.contain("ACCOUNT_ID");
        });

        it("refuses a document IAM would refuse", () => {
            const broken = (statement: Record<string, unknown>) => JSON.stringify({ Version: "2012-10-17", Statement: [statement] });
            expect(() => loadPolicy("a.json", broken({ Effect: "Permit", Action: "*", Resource: "*" }), {})).to.throw("Effect");
            expect(() => loadPolicy("a.json", broken({ Effect: "Allow", Action: "*" }), {})).to.throw("Resource");
            expect(() => loadPolicy("a.json", broken({ Effect: "Allow", Action: "*", NotAction: "s3:*", Resource: "*" }), {})).to.throw("Action");
            expect(() => loadPolicy("a.json", broken({ Effect: "Allow", Action: "*", Resource: "*", Condition: { StringEqual: { a: "b" } } }), {})).to.throw("StringEqual");
            expect(() => loadPolicy("a.json", "{ not json", {})).to.throw();
            const document = { Statement: [{ Effect: "Allow", Action: "*" }] } as unknown as PolicyDocument;
            expect(() => evaluate(ask("s3:GetObject", "*"), [{ name: "raw", document }])).to.throw("raw is not a valid IAM policy");
        });

        it("denies through broken policies: a misspelled action, an unfilled placeholder, a condition on the wrong key", () => {
            const misspelled = policy("p", allow({ Action: "ec2:RunInstance" }));
            expect(allowed(ask("ec2:RunInstances", "*"), misspelled)).to.equal(false);
            const unfilled = loadPolicy("deploy.json", file, { REGION: "eu-west-1", STATE_BUCKET: "state" });
            expect(allowed(ask("iam:GetRole", role("tasks-role-1")), unfilled)).to.equal(false);
            const wrongKey = policy("p", allow({ Condition: { StringEquals: { "iam:PassedService": "ec2.amazonaws.com" } } }));
            expect(allowed(ask("iam:PassRole", role("tasks-role-1"), { "iam:PassedToService": "ec2.amazonaws.com" }), wrongKey)).to.equal(false);
        });
    });
});
