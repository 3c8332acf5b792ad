import { expect } from "chai";
import { ingressRuleViolations, securityGroupRuleViolations, securityGroupViolations } from "../rules/noPublicSsh";
import { analyze } from "./analyze";

const fix = (field: string) =>
    `SSH must not be open to the internet; reach hosts with SSM Session Manager instead, or narrow ${field} to a known network.`;

describe("policy no-public-ssh-ingress", () => {
    describe("aws.vpc.SecurityGroupIngressRule", () => {
        const cases: { title: string; props: Parameters<typeof ingressRuleViolations>[0]; violations: string[] }[] = [
            {
                title: "passes the service port open to the internet",
                props: { cidrIpv4: "0.0.0.0/0", ipProtocol: "tcp", fromPort: 8080, toPort: 8080 },
                violations: [],
            },
            {
                title: "passes SSH from a known network",
                props: { cidrIpv4: "203.0.113.0/24", ipProtocol: "tcp", fromPort: 22, toPort: 22 },
                violations: [],
            },
            {
                title: "passes UDP on port 22 from anywhere",
                props: { cidrIpv4: "0.0.0.0/0", ipProtocol: "udp", fromPort: 22, toPort: 22 },
                violations: [],
            },
            {
                title: "fails SSH from 0.0.0.0/0",
                props: { cidrIpv4: "0.0.0.0/0", ipProtocol: "tcp", fromPort: 22, toPort: 22 },
                violations: [
                    `cidrIpv4 is 0.0.0.0/0 and covers port 22 (ipProtocol "tcp", fromPort 22, toPort 22): ${fix("cidrIpv4")}`,
                ],
            },
            {
                title: "fails a port range that includes 22, from ::/0",
                props: { cidrIpv6: "::/0", ipProtocol: "tcp", fromPort: 0, toPort: 1024 },
                violations: [
                    `cidrIpv6 is ::/0 and covers port 22 (ipProtocol "tcp", fromPort 0, toPort 1024): ${fix("cidrIpv6")}`,
                ],
            },
            {
                title: 'fails all protocols ("-1") from 0.0.0.0/0',
                props: { cidrIpv4: "0.0.0.0/0", ipProtocol: "-1" },
                violations: [`cidrIpv4 is 0.0.0.0/0 and covers port 22 (ipProtocol "-1"): ${fix("cidrIpv4")}`],
            },
        ];
        for (const { title, props, violations } of cases) {
            it(title, () => expect(ingressRuleViolations(props)).to.deep.equal(violations));
        }
    });

    describe("aws.ec2.SecurityGroup inline ingress", () => {
        it("passes a group without SSH", () => {
            const props = { ingress: [{ protocol: "tcp", fromPort: 443, toPort: 443, cidrBlocks: ["0.0.0.0/0"] }] };
            expect(securityGroupViolations(props)).to.deep.equal([]);
        });
        it("fails each inline rule and CIDR that opens SSH", () => {
            const props = {
                ingress: [
                    { protocol: "tcp", fromPort: 443, toPort: 443, cidrBlocks: ["0.0.0.0/0"] },
                    {
                        protocol: "all",
                        fromPort: 0,
                        toPort: 0,
                        cidrBlocks: ["10.0.0.0/8", "0.0.0.0/0"],
                        ipv6CidrBlocks: ["::/0"],
                    },
                ],
            };
            const range = 'ingress[1].protocol "all", ingress[1].fromPort 0, ingress[1].toPort 0';
            expect(securityGroupViolations(props)).to.deep.equal([
                `ingress[1].cidrBlocks includes 0.0.0.0/0 and covers port 22 (${range}): ${fix("ingress[1].cidrBlocks")}`,
                `ingress[1].ipv6CidrBlocks includes ::/0 and covers port 22 (${range}): ${fix("ingress[1].ipv6CidrBlocks")}`,
            ]);
        });
    });

    describe("aws.ec2.SecurityGroupRule", () => {
        it("passes an egress rule to anywhere on any port", () => {
            const props = { type: "egress", protocol: "-1", fromPort: 0, toPort: 0, cidrBlocks: ["0.0.0.0/0"] };
            expect(securityGroupRuleViolations(props)).to.deep.equal([]);
        });
        it("fails an ingress rule with SSH from anywhere (protocol number 6)", () => {
            const props = { type: "ingress", protocol: "6", fromPort: 22, toPort: 22, cidrBlocks: ["0.0.0.0/0"] };
            expect(securityGroupRuleViolations(props)).to.deep.equal([
                `cidrBlocks includes 0.0.0.0/0 and covers port 22 (protocol "6", fromPort 22, toPort 22): ${fix("cidrBlocks")}`,
            ]);
        });
    });

    it("reports through the pack for each of the three types", async () => {
        const ssh = { protocol: "tcp", fromPort: 22, toPort: 22, cidrBlocks: ["0.0.0.0/0"] };
        const count = async (type: string, inputs: Record<string, unknown>) =>
            (await analyze({ type, name: "x", inputs })).filter((v) => v.policy === "no-public-ssh-ingress").length;
        expect(
            await count("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule", {
                cidrIpv4: "0.0.0.0/0",
                ipProtocol: "tcp",
                fromPort: 22,
                toPort: 22,
            }),
        ).to.equal(1);
        expect(await count("aws:ec2/securityGroup:SecurityGroup", { ingress: [ssh] })).to.equal(1);
        expect(await count("aws:ec2/securityGroupRule:SecurityGroupRule", { type: "ingress", ...ssh })).to.equal(1);
    });
});
