import { expect } from "chai";
import * as fs from "fs";
import * as path from "path";
import { imageDigestViolations } from "../rules/imageDigest";
import { analyze } from "./analyze";

/** A snapshot of the program's rendered user data (requests host); test/policy.test.ts checks the live one. */
const realUserData = fs.readFileSync(path.join(__dirname, "fixtures", "user-data.yaml"), "utf8");

const digest = `sha256:${"0123456789abcdef".repeat(4)}`;
const serviceFix =
    "which is not pinned by digest: reference it as repository@sha256:<digest> (docker.Image's repoDigest) so the " +
    "host runs exactly the image that was built and tested.";
const helperFix =
    "which is pinned neither by digest nor by an exact version tag: pin it as " +
    "public.ecr.aws/aws-cli/aws-cli@sha256:<digest>, or by a major.minor.patch tag such as :2.31.23.";

function check(text: string): string[] {
    return imageDigestViolations([{ property: "userData", text }]);
}

describe("policy host-image-pinned-by-digest", () => {
    describe("passes", () => {
        const cases: { title: string; text: string }[] = [
            { title: "the program's user data: the proxy and the AWS CLI by digest", text: realUserData },
            {
                title: "the proxy helper by an exact version",
                text: "#cloud-config\nruncmd:\n  - [docker, pull, --quiet, caddy:2.11.7-alpine]\n",
            },
            {
                title: "a unit's IMAGE pinned by digest",
                text: `Environment="IMAGE=docker.io/octocat/tasks@${digest}"\n`,
            },
            { title: "a tag and a digest together", text: `IMAGE=docker.io/octocat/tasks:dev@${digest}\n` },
            {
                title: "the AWS CLI helper by digest",
                text: `AWS_CLI_IMAGE=public.ecr.aws/aws-cli/aws-cli@${digest}\n`,
            },
            { title: "docker run of a digest", text: `docker run -d --name web -p 80:80 nginx@${digest}\n` },
            {
                title: "docker run of a variable, judged where it is set",
                text: 'docker run --rm --network host "$IMAGE" ls\n',
            },
            { title: "user data that runs no container", text: "#!/bin/sh\necho hello\n" },
            { title: "a commented-out docker run", text: "# docker run nginx:latest\n" },
        ];
        for (const { title, text } of cases) it(title, () => expect(check(text)).to.deep.equal([]));
    });

    describe("fails", () => {
        const cases: { title: string; text: string; violations: string[] }[] = [
            {
                title: "a tag-only IMAGE",
                text: 'Environment="IMAGE=docker.io/octocat/tasks:dev"\n',
                violations: [`userData sets IMAGE to docker.io/octocat/tasks:dev, ${serviceFix}`],
            },
            {
                title: "an IMAGE with a malformed digest",
                text: "IMAGE=docker.io/octocat/tasks@sha256:abc\n",
                violations: [`userData sets IMAGE to docker.io/octocat/tasks@sha256:abc, ${serviceFix}`],
            },
            {
                title: "any other *_IMAGE by tag",
                text: "APP_IMAGE=docker.io/octocat/tasks:1.2.3\n",
                violations: [`userData sets APP_IMAGE to docker.io/octocat/tasks:1.2.3, ${serviceFix}`],
            },
            {
                title: "the AWS CLI helper image on latest, untagged, or on a moving major tag",
                text: [
                    'Environment="AWS_CLI_IMAGE=public.ecr.aws/aws-cli/aws-cli:latest"',
                    "AWS_CLI_IMAGE=public.ecr.aws/aws-cli/aws-cli",
                    "AWS_CLI_IMAGE=public.ecr.aws/aws-cli/aws-cli:2",
                ].join("\n"),
                violations: [
                    `userData sets AWS_CLI_IMAGE to public.ecr.aws/aws-cli/aws-cli:latest, ${helperFix}`,
                    `userData sets AWS_CLI_IMAGE to public.ecr.aws/aws-cli/aws-cli, ${helperFix}`,
                    `userData sets AWS_CLI_IMAGE to public.ecr.aws/aws-cli/aws-cli:2, ${helperFix}`,
                ],
            },
            {
                title: "docker run of a tag, across continuation lines and after flags with values",
                text: 'docker run --detach --name web \\\n  --log-opt max-size=10m -p "80:80" -it \\\n  nginx:1.27 nginx -g "daemon off;"\n',
                violations: [`userData runs nginx:1.27 with docker, ${serviceFix}`],
            },
            {
                title: "a cloud-config runcmd in list form that pulls the proxy by a moving tag",
                text: "#cloud-config\nruncmd:\n  - [systemctl, daemon-reload]\n  - [docker, pull, --quiet, caddy:2]\n",
                violations: [
                    "userData runs caddy:2 with docker, which is pinned neither by digest nor by an exact version tag: " +
                        "pin it as caddy@sha256:<digest>, or by a major.minor.patch tag such as :2.31.23.",
                ],
            },
            {
                title: "ExecStart with docker pull of an untagged image",
                text: "ExecStartPre=/usr/bin/docker pull redis\n",
                violations: [`userData runs redis with docker, ${serviceFix}`],
            },
        ];
        for (const { title, text, violations } of cases) it(title, () => expect(check(text)).to.deep.equal(violations));
    });

    it("checks the image an SSM association releases: by digest only, helper or not", async () => {
        const messages = async (image: string) =>
            (await analyze({ type: "aws:ssm/association:Association", name: "x", inputs: { parameters: { image } } }))
                .filter((v) => v.policy === "host-image-pinned-by-digest")
                .map((v) => v.message);
        expect(await messages(`docker.io/octocat/tasks@${digest}`)).to.deep.equal([]);
        expect(await messages("docker.io/octocat/tasks:dev")).to.deep.equal([
            `parameters.image releases docker.io/octocat/tasks:dev, ${serviceFix}`,
        ]);
        const noImage = await analyze({ type: "aws:ssm/association:Association", name: "x", inputs: { name: "AWS-RunPatchBaseline" } });
        expect(noImage.filter((v) => v.policy === "host-image-pinned-by-digest"), "an association that releases no image").to.deep.equal([]);
    });

    it("checks instances' user data and launch templates' base64 user data", async () => {
        const text = "IMAGE=docker.io/octocat/tasks:dev\n";
        const messages = async (type: string, inputs: Record<string, unknown>) =>
            (await analyze({ type, name: "x", inputs }))
                .filter((v) => v.policy === "host-image-pinned-by-digest")
                .map((v) => v.message);
        const expected = [`userData sets IMAGE to docker.io/octocat/tasks:dev, ${serviceFix}`];
        expect(await messages("aws:ec2/instance:Instance", { userData: text })).to.deep.equal(expected);
        expect(
            await messages("aws:ec2/launchTemplate:LaunchTemplate", { userData: Buffer.from(text).toString("base64") }),
        ).to.deep.equal(expected);
    });
});
