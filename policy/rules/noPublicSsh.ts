import * as aws from "@pulumi/aws";
import { ResourceValidationPolicy } from "@pulumi/policy";
import { reportViolationsOf } from "../report";

const sshPort = 22;
const internetCidrs = ["0.0.0.0/0", "::/0"];

/** One ingress permission, whatever resource type declares it. */
interface Ingress {
    /** How a message names the permission's fields: "" for a rule resource, "ingress[0]." for an inline rule. */
    prefix: string;
    protocolField: "ipProtocol" | "protocol";
    protocol?: string;
    fromPort?: number;
    toPort?: number;
    /** Each source field and the CIDRs it holds. */
    sources: { field: string; cidrs: string[] }[];
}

/** Whether a protocol and port range let TCP port 22 in. All protocols ("-1", "all") cover every port. */
function coversSsh(protocol: string | undefined, fromPort: number | undefined, toPort: number | undefined): boolean {
    const name = String(protocol ?? "").toLowerCase();
    if (name === "-1" || name === "all") return true;
    if (name !== "tcp" && name !== "6") return false;
    // AWS requires ports for TCP; an unset bound is read as open, not as closed.
    return (fromPort ?? 0) <= sshPort && sshPort <= (toPort ?? 65535);
}

function describeRange(ingress: Ingress): string {
    const parts = [`${ingress.protocolField} "${ingress.protocol}"`];
    if (ingress.fromPort !== undefined) parts.push(`fromPort ${ingress.fromPort}`);
    if (ingress.toPort !== undefined) parts.push(`toPort ${ingress.toPort}`);
    return parts.map((part) => ingress.prefix + part).join(", ");
}

function ingressViolations(ingress: Ingress): string[] {
    if (!coversSsh(ingress.protocol, ingress.fromPort, ingress.toPort)) return [];
    const violations: string[] = [];
    for (const { field, cidrs } of ingress.sources) {
        const verb = field.startsWith("cidrIp") ? "is" : "includes";
        for (const cidr of cidrs.filter((candidate) => internetCidrs.includes(candidate.trim()))) {
            violations.push(
                `${ingress.prefix}${field} ${verb} ${cidr} and covers port ${sshPort} (${describeRange(ingress)}): ` +
                    "SSH must not be open to the internet; reach hosts with SSM Session Manager instead, " +
                    `or narrow ${ingress.prefix}${field} to a known network.`,
            );
        }
    }
    return violations;
}

/** aws.vpc.SecurityGroupIngressRule: one CIDR per rule. */
export function ingressRuleViolations(rule: {
    ipProtocol?: string;
    fromPort?: number;
    toPort?: number;
    cidrIpv4?: string;
    cidrIpv6?: string;
}): string[] {
    return ingressViolations({
        prefix: "",
        protocolField: "ipProtocol",
        protocol: rule.ipProtocol,
        fromPort: rule.fromPort,
        toPort: rule.toPort,
        sources: [
            { field: "cidrIpv4", cidrs: rule.cidrIpv4 ? [rule.cidrIpv4] : [] },
            { field: "cidrIpv6", cidrs: rule.cidrIpv6 ? [rule.cidrIpv6] : [] },
        ],
    });
}

/** The legacy rule shape, shared by inline `ingress` blocks and aws.ec2.SecurityGroupRule. */
interface LegacyRule {
    protocol?: string;
    fromPort?: number;
    toPort?: number;
    cidrBlocks?: string[];
    ipv6CidrBlocks?: string[];
}

function legacyRuleViolations(rule: LegacyRule, prefix: string): string[] {
    return ingressViolations({
        prefix,
        protocolField: "protocol",
        protocol: rule.protocol,
        fromPort: rule.fromPort,
        toPort: rule.toPort,
        sources: [
            { field: "cidrBlocks", cidrs: rule.cidrBlocks ?? [] },
            { field: "ipv6CidrBlocks", cidrs: rule.ipv6CidrBlocks ?? [] },
        ],
    });
}

/** aws.ec2.SecurityGroup: its inline `ingress` blocks. */
export function securityGroupViolations(group: { ingress?: LegacyRule[] }): string[] {
    return (group.ingress ?? []).flatMap((rule, index) => legacyRuleViolations(rule, `ingress[${index}].`));
}

/** aws.ec2.SecurityGroupRule: only `type: "ingress"` lets traffic in. */
export function securityGroupRuleViolations(rule: LegacyRule & { type?: string }): string[] {
    return rule.type === "ingress" ? legacyRuleViolations(rule, "") : [];
}

export const noPublicSsh: ResourceValidationPolicy = {
    name: "no-public-ssh-ingress",
    description:
        "No ingress from 0.0.0.0/0 or ::/0 that covers port 22: security group ingress rules, inline ingress blocks " +
        'and ingress-type security group rules, counting port ranges that include 22 and protocol "-1"/"all".',
    enforcementLevel: "mandatory",
    validateResource: [
        reportViolationsOf(aws.vpc.SecurityGroupIngressRule, ingressRuleViolations),
        reportViolationsOf(aws.ec2.SecurityGroup, securityGroupViolations),
        reportViolationsOf(aws.ec2.SecurityGroupRule, securityGroupRuleViolations),
    ],
};
