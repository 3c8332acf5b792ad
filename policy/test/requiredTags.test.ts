import { expect } from "chai";
import { missingTagViolations } from "../rules/requiredTags";
import { analyze } from "./analyze";

const fix =
    "tag every resource with project, stack and service (the ServiceHost component sets them with serviceTags()) so " +
    "owners and costs can be traced.";
const complete = { project: "microservices", stack: "dev", service: "tasks", Name: "microservices-dev-tasks" };

describe("policy required-tags", () => {
    const cases: { title: string; tags: Record<string, string> | undefined; violations: string[] }[] = [
        { title: "passes project, stack and service", tags: complete, violations: [] },
        {
            title: "fails a missing tag",
            tags: { project: "microservices", stack: "dev" },
            violations: [`tags lacks "service": ${fix}`],
        },
        { title: "fails an empty tag", tags: { ...complete, stack: "" }, violations: [`tags lacks "stack": ${fix}`] },
        {
            title: "fails a resource without tags",
            tags: undefined,
            violations: [`tags lacks "project", "stack", "service": ${fix}`],
        },
    ];
    for (const { title, tags, violations } of cases) {
        it(title, () => expect(missingTagViolations(tags)).to.deep.equal(violations));
    }

    const taggable = [
        "aws:ec2/instance:Instance",
        "aws:ec2/eip:Eip",
        "aws:ec2/securityGroup:SecurityGroup",
        "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule",
        "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule",
        "aws:ssm/parameter:Parameter",
        "aws:iam/role:Role",
        "aws:iam/instanceProfile:InstanceProfile",
    ];
    for (const type of taggable) {
        it(`requires the tags on ${type}, the program's taggable types`, async () => {
            const violations = (await analyze({ type, name: "x", inputs: {} })).filter(
                (v) => v.policy === "required-tags",
            );
            expect(violations.map((v) => v.message)).to.deep.equal([
                `tags lacks "project", "stack", "service": ${fix}`,
            ]);
        });
    }

    for (const type of [
        "aws:iam/rolePolicy:RolePolicy",
        "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
        "docker:index/image:Image",
    ]) {
        it(`leaves ${type} alone: it takes no tags`, async () => {
            const violations = (await analyze({ type, name: "x", inputs: {} })).filter(
                (v) => v.policy === "required-tags",
            );
            expect(violations).to.deep.equal([]);
        });
    }
});
