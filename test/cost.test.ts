// The monthly cost of each committed stack, computed from the resources the real program registers under the mocks,
// and the table in docs/cost.md, which must be this computation's output. Every resource type the program creates
// is either priced here or named free, so a new type fails until someone decides what it costs.
import { expect } from "chai";
import * as fs from "fs";
import * as path from "path";
import { minimalConfig, project, RecordedResource, root, runProgram, stackFileConfig } from "./mocks";

/** On-demand prices in USD for eu-west-1, read on 2026-11-29; docs/cost.md names the source of each. */
const prices = {
    region: "eu-west-1",
    instancePerHour: { "t3.micro": 0.0114, "t3.small": 0.0228, "t3.medium": 0.0456 } as Record<string, number>,
    gp3PerGbMonth: 0.088,
    publicIpv4PerHour: 0.005,
    kmsKeyPerMonth: 1,
    advancedParameterPerMonth: 0.05,
};
/** AWS's own calculator counts a month as 730 hours. */
const hoursPerMonth = 730;

/** One line of the bill: which row of the table, what was counted (e.g. an instance type), USD a month. */
interface Charge {
    item: string;
    unit: string;
    usd: number;
}

const items = {
    instances: "EC2 instances (Linux)",
    volumes: "root volumes (gp3)",
    addresses: "public IPv4 addresses (Elastic IPs)",
    keys: "KMS keys (customer managed)",
    parameters: "SSM parameters",
};

function instanceCharges(inputs: Record<string, unknown>): Charge[] {
    const type = String(inputs.instanceType);
    const perHour = prices.instancePerHour[type];
    if (perHour === undefined) throw new Error(`no price for the instance type ${type}; add it to test/cost.test.ts`);
    const volume = inputs.rootBlockDevice as { volumeType?: string; volumeSize?: number } | undefined;
    if (volume?.volumeType !== "gp3" || !volume.volumeSize) {
        throw new Error(`no price for the root volume ${JSON.stringify(volume)}; add it to test/cost.test.ts`);
    }
    return [
        { item: items.instances, unit: type, usd: perHour * hoursPerMonth },
        { item: items.volumes, unit: `${volume.volumeSize} GB`, usd: volume.volumeSize * prices.gp3PerGbMonth },
    ];
}

/** What each resource type the program creates costs a month. */
const priced: Record<string, (inputs: Record<string, unknown>) => Charge[]> = {
    "aws:ec2/instance:Instance": instanceCharges,
    // Charged whether attached or not; it replaces the instance's own public address, so each host holds one.
    "aws:ec2/eip:Eip": () => [{ item: items.addresses, unit: "address", usd: prices.publicIpv4PerHour * hoursPerMonth }],
    "aws:ssm/parameter:Parameter": (inputs) =>
        inputs.tier === "Advanced"
            ? [{ item: items.parameters, unit: "advanced", usd: prices.advancedParameterPerMonth }]
            : [{ item: items.parameters, unit: "standard", usd: 0 }],
    "aws:kms/key:Key": () => [{ item: items.keys, unit: "key", usd: prices.kmsKeyPerMonth }],
};

/** Resource types with no charge of their own, named as the docs name them. */
const free: Record<string, string> = {
    // The component groups its children; it is no cloud resource.
    [`${project}:index:ServiceHost`]: "",
    "aws:iam/role:Role": "IAM roles, policies and instance profiles",
    "aws:iam/rolePolicy:RolePolicy": "IAM roles, policies and instance profiles",
    "aws:iam/rolePolicyAttachment:RolePolicyAttachment": "IAM roles, policies and instance profiles",
    "aws:iam/instanceProfile:InstanceProfile": "IAM roles, policies and instance profiles",
    "aws:ec2/securityGroup:SecurityGroup": "security groups and their rules",
    "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule": "security groups and their rules",
    "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule": "security groups and their rules",
    "aws:ssm/document:Document": "the SSM release document and its State Manager associations",
    "aws:ssm/association:Association": "the SSM release document and its State Manager associations",
    "aws:kms/alias:Alias": "KMS aliases",
    "aws:ec2/eipAssociation:EipAssociation": "moving an Elastic IP to its host",
    // Run by `pulumi up` itself: SSM's API calls to wait for a host and for a release cost nothing.
    "pulumi-nodejs:dynamic/release:ManagedNodeReady": "the waits for a host and for its release",
    "pulumi-nodejs:dynamic/release:ReleaseGate": "the waits for a host and for its release",
    "docker:index/image:Image": "the images pushed to Docker Hub (your Docker Hub plan applies)",
};

const stacks = ["dev", "prod"];

/** The stack as committed. prod's committed range is a documentation one, which the program refuses; any real one costs the same. */
function committedStack(stack: string) {
    const extra = stack === "prod" ? { ...minimalConfig, [`${project}:ingressCidrs`]: ["81.2.69.0/24"] } : minimalConfig;
    return runProgram(stackFileConfig(stack, extra), stack);
}

function charges(resources: RecordedResource[]): Charge[] {
    return resources.flatMap((resource) => priced[resource.type]?.(resource.inputs) ?? []);
}

function money(usd: number): string {
    return `$${usd.toFixed(2)}`;
}

/** A table cell: what was counted, e.g. "2 × t3.micro", and what it costs. */
function cell(lines: Charge[]): string {
    if (lines.length === 0) return "none";
    const counts = new Map<string, number>();
    for (const line of lines) counts.set(line.unit, (counts.get(line.unit) ?? 0) + 1);
    const counted = [...counts].map(([unit, count]) => `${count} × ${unit}`).join(", ");
    return `${counted}: ${money(lines.reduce((sum, line) => sum + line.usd, 0))}`;
}

/** The table docs/cost.md must show, and the sentence after it that names what is free. */
function costTable(perStack: Record<string, RecordedResource[]>): string {
    const bills = Object.fromEntries(stacks.map((stack) => [stack, charges(perStack[stack])]));
    const rows = Object.values(items)
        .filter((item) => stacks.some((stack) => bills[stack].some((line) => line.item === item)))
        .map((item) => `| ${item} | ${stacks.map((stack) => cell(bills[stack].filter((line) => line.item === item))).join(" | ")} |`);
    const totals = stacks.map((stack) => `**${money(bills[stack].reduce((sum, line) => sum + line.usd, 0))}**`);
    const freeLabels = new Set(
        stacks.flatMap((stack) => perStack[stack].map((resource) => free[resource.type])).filter(Boolean),
    );
    return [
        `| a month, on demand, ${prices.region} | ${stacks.join(" | ")} |`,
        `|---|${stacks.map(() => "---").join("|")}|`,
        ...rows,
        `| **total** | ${totals.join(" | ")} |`,
        "",
        `No charge of their own: ${[...freeLabels].sort().join("; ")}.`,
    ].join("\n");
}

describe("cost of the committed stacks", () => {
    const perStack: Record<string, RecordedResource[]> = {};
    before(async () => {
        for (const stack of stacks) perStack[stack] = (await committedStack(stack)).resources;
    });

    it("prices every resource type the program creates, or names it free", () => {
        const types = new Set(stacks.flatMap((stack) => perStack[stack].map((resource) => resource.type)));
        const undecided = [...types].filter((type) => !(type in priced) && !(type in free));
        expect(undecided, "price these in test/cost.test.ts, or name them free, and update docs/cost.md").to.deep.equal([]);
        expect(types).to.include.all.keys("aws:ec2/instance:Instance", "aws:ec2/eip:Eip", "aws:ssm/parameter:Parameter");
    });

    it("prices the stacks in the region the prices are for", () => {
        for (const stack of stacks) {
            expect(stackFileConfig(stack)["aws:region"], `Pulumi.${stack}.yaml`).to.equal(prices.region);
        }
    });

    it("is the table docs/cost.md shows", () => {
        const table = costTable(perStack);
        const doc = fs.readFileSync(path.join(root, "docs", "cost.md"), "utf8");
        expect(doc.includes(table), `docs/cost.md must show, exactly:\n\n${table}\n`).to.equal(true);
    });
});
