import { expect } from "chai";
import * as fs from "fs";
import * as path from "path";
import * as YAML from "yaml";
import { configDefaults, configKeys, secretConfigKeys } from "../config";
import { minimalConfig, named, ofType, project, root, runProgram, stackFileConfig } from "./mocks";

interface Declaration {
    type: string;
    description?: string;
    secret?: boolean;
    default?: unknown;
    items?: { type: string };
}

const projectFile = YAML.parse(fs.readFileSync(path.join(root, "Pulumi.yaml"), "utf8"));
const declarations: Record<string, Declaration> = projectFile.config;
const stacks = ["dev", "prod"];

describe("Pulumi.yaml", () => {
    it("names the project and runs TypeScript on Node", () => {
        expect(projectFile.name).to.equal(project);
        expect(projectFile.runtime).to.deep.equal({ name: "nodejs", options: { typescript: true } });
        expect(projectFile.description).to.be.a("string").that.is.not.empty;
    });

    it("declares every key the program reads, typed and described, and no other", () => {
        // The push token is needed only by stacks that build, and the CLI requires every declared secret.
        expect(Object.keys(declarations)).to.have.members(configKeys.filter((key) => key !== "dockerHubToken"));
        for (const [key, declaration] of Object.entries(declarations)) {
            expect(["string", "integer", "array"], key).to.include(declaration.type);
            expect(declaration.description, key).to.be.a("string").that.is.not.empty;
            if (declaration.type === "array") expect(declaration.items, key).to.deep.equal({ type: "string" });
        }
    });

    it("declares every secret `secret: true` without a default, so the CLI refuses a plaintext value", () => {
        const declaredSecrets = Object.keys(declarations).filter((key) => declarations[key].secret);
        expect(declaredSecrets).to.have.members(secretConfigKeys.filter((key) => key !== "dockerHubToken"));
        expect(secretConfigKeys).to.have.members([
            "dockerHubToken",
            "mongodbUri",
            "postgresUrl",
            "logseneToken",
            "papertrailDestination",
            "tasksApiCallers",
            "requestsApiCallers",
            "requestsTasksApiKey",
        ]);
        for (const key of declaredSecrets) expect(declarations[key], key).not.to.have.property("default");
    });

    it("declares the same defaults the program applies", () => {
        for (const [key, value] of Object.entries(configDefaults)) {
            expect(declarations[key].default, key).to.deep.equal(value);
        }
        const withDefaults = Object.keys(declarations).filter((key) => "default" in declarations[key]);
        expect(withDefaults).to.have.members(Object.keys(configDefaults));
    });
});

describe("stack files", () => {
    for (const stack of stacks) {
        it(`Pulumi.${stack}.yaml commits no secret, not even an encrypted one`, () => {
            const stackFile = YAML.parse(fs.readFileSync(path.join(root, `Pulumi.${stack}.yaml`), "utf8"));
            const keys = Object.keys(stackFile.config);
            for (const key of secretConfigKeys) expect(keys).not.to.include(`${project}:${key}`);
            expect(JSON.stringify(stackFile)).not.to.include("secure");
            expect(stackFile).not.to.have.property("encryptionsalt");
            expect(stackFile.config["aws:region"]).to.match(/^[a-z]{2}-[a-z]+-\d$/);
        });

        it(`Pulumi.${stack}.yaml loads and validates, with the secrets a user sets`, async () => {
            const run = await runProgram(stackFileConfig(stack), stack);
            expect(ofType(run.resources, "aws:ec2/instance:Instance")).to.have.length(2);
            for (const resource of run.resources.filter((r) => r.inputs.tags)) {
                expect(resource.inputs.tags).to.include({ project, stack, environment: stack });
            }
        });
    }

    it("sizes dev small and prod for real use", async () => {
        const dev = await runProgram(stackFileConfig("dev"), "dev");
        const devTypes = ["tasks", "requests"].map((service) => named(dev.resources, `${service}-host`).inputs.instanceType);
        const prod = await runProgram(stackFileConfig("prod"), "prod");
        const prodTypes = ["tasks", "requests"].map((service) => named(prod.resources, `${service}-host`).inputs.instanceType);
        expect(devTypes).to.deep.equal(["t3.micro", "t3.micro"]);
        expect(prodTypes).to.deep.equal(["t3.medium", "t3.small"]);
    });

    it("keeps prod's HTTPS to the listed networks; only port 80, for ACME and the redirect, is open to all", async () => {
        const prod = await runProgram(stackFileConfig("prod"), "prod");
        const publicRules = ofType(prod.resources, "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule").filter(
            (rule) => !rule.inputs.referencedSecurityGroupId,
        );
        expect(publicRules.map((rule) => [rule.inputs.fromPort, rule.inputs.cidrIpv4 ?? rule.inputs.cidrIpv6])).to.deep.equal([
            [443, "10.20.0.0/16"],
            [80, "0.0.0.0/0"],
            [80, "::/0"],
            [443, "10.20.0.0/16"],
            [80, "0.0.0.0/0"],
            [80, "::/0"],
        ]);
        const parameterNames = ofType(prod.resources, "aws:ssm/parameter:Parameter").map((p) => p.inputs.name);
        expect(parameterNames).to.have.length(7);
        expect(parameterNames.every((name) => String(name).startsWith("/microservices/prod/"))).to.equal(true);
    });

    it("commits prod with a documentation range that the program refuses until real networks are set", async () => {
        const prodFile = fs.readFileSync(path.join(root, "Pulumi.prod.yaml"), "utf8");
        expect(prodFile).to.include("203.0.113.0/24");
        expect(prodFile).to.include("203.0.113.0/24 is a documentation range (RFC 5737) that reaches nobody, and the program refuses it");
        let message = "";
        try {
            await runProgram(stackFileConfig("prod", { ...minimalConfig, ingressCidrs: YAML.parse(prodFile).config["microservices:ingressCidrs"] }), "prod");
        } catch (error) {
            message = (error as Error).message;
        }
        expect(message).to.include(
            '`ingressCidrs` holds "203.0.113.0/24": it lies in 203.0.113.0/24, a range reserved for documentation (RFC 5737)',
        );
    });
});
